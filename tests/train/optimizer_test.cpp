// Optimizer groups (RF-DETR's rates, one group per distinct pair), accumulation, EMA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include <torch/torch.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/optimizer.h"
#include "rtseg/framework/train/train_step.h"
#include "train/train_test_support.h"

namespace rtseg {
namespace {

using framework::train::ParameterGroup;

std::shared_ptr<framework::Model> build(framework::Runtime& runtime, const std::string& text,
                                        framework::CheckedRecipe* checked = nullptr) {
  const auto document = framework::RecipeDocument::parse_text(text, "test.toml");
  const auto recipe = framework::check_recipe(document, runtime.registry());
  if (checked) *checked = recipe;
  torch::manual_seed(0);
  return framework::build_model(runtime.registry(), document, recipe, sdk::BuildContext{});
}

TEST(ParameterGroups, NanoHasRfDetrsTwentyEightRatePairs) {
  auto runtime = testing::make_test_runtime();
  const auto loaded = framework::load_recipe(framework::RecipeRequest{
      std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes" / "variants" / "nano.toml", "", std::nullopt, {}});
  const auto recipe = framework::check_recipe(loaded.document, runtime->registry());
  auto model = framework::build_model(runtime->registry(), loaded.document, recipe, sdk::BuildContext{});
  const auto groups = framework::train::parameter_groups(*model, recipe.train);
  EXPECT_EQ(groups.size(), 28u);
  std::map<std::string, std::pair<double, double>> rate_of;
  std::size_t tensors = 0;
  for (const ParameterGroup& group : groups) {
    tensors += group.parameters.size();
    for (const auto& name : group.names) rate_of[name] = {group.lr, group.weight_decay};
  }
  EXPECT_EQ(tensors, model->parameters().size());
  const double base = 1.5e-4 * 0.49;  // lr_encoder x lr_component_decay^2
  // ViT layer 11 (layer_id 12 of N = 13): 0.8^2; its LayerNorm has no weight decay.
  const auto layer11 = rate_of.at("backbone.0.encoder.encoder.encoder.layer.11.mlp.fc1.weight");
  EXPECT_NEAR(layer11.first, base * 0.64, 1e-12);
  EXPECT_EQ(layer11.second, 1e-4);
  EXPECT_EQ(rate_of.at("backbone.0.encoder.encoder.encoder.layer.11.norm1.weight").second, 0.0);
  // Embeddings (layer_id 0): 0.8^14.
  EXPECT_NEAR(rate_of.at("backbone.0.encoder.encoder.embeddings.patch_embeddings.projection.weight").first,
              base * std::pow(0.8, 14), 1e-15);
  // Decoder layers: lr x 0.7; heads and the projector: lr, with weight decay even on biases.
  EXPECT_NEAR(rate_of.at("transformer.decoder.layers.0.linear1.weight").first, 1e-4 * 0.7, 1e-15);
  EXPECT_EQ(rate_of.at("class_embed.bias"), std::make_pair(1e-4, 1e-4));
}

TEST(ParameterGroups, FrozenParametersAreLeftOut) {
  auto runtime = testing::make_test_runtime();
  auto model = build(*runtime, testing::tiny_recipe("runs"));
  for (auto& parameter : model->backbone().parameters()) parameter.set_requires_grad(false);
  framework::TrainOptions options;
  for (const ParameterGroup& group : framework::train::parameter_groups(*model, options)) {
    for (const auto& name : group.names) EXPECT_NE(name.rfind("backbone.", 0), 0u) << name;
  }
}

// Two images of the same size and object count: one batch of 2 and two micro-batches of 1 give
// the same gradients (the loss of each micro-batch is scaled by 1/2).
TEST(TrainStep, AccumulationGivesTheGradientsOfTheWholeBatch) {
  auto runtime = testing::make_test_runtime();
  framework::CheckedRecipe recipe;
  auto model = build(*runtime, testing::tiny_recipe("runs"), &recipe);
  model->train();
  recipe.train.clip_max_norm = 0;
  auto groups = framework::train::parameter_groups(*model, recipe.train);
  auto optimizer = framework::train::make_adamw(groups);
  framework::train::LossScaler scaler(false, torch::kCPU);
  framework::criterion::SetCriterion criterion(recipe.train.loss, recipe.train.matcher);
  framework::train::TrainStep step({model.get(), &criterion, optimizer.get(), &groups, &scaler, nullptr},
                                   framework::train::AmpMode::kOff, 0.0, torch::kCPU);

  torch::manual_seed(3);
  auto image = [](int i) {
    framework::TrainingSample sample;
    sample.image = torch::randn({3, 64, 64});
    sample.targets.labels = torch::tensor({i % 3, (i + 1) % 3}, torch::kLong);
    sample.targets.boxes = torch::tensor({{0.3f, 0.3f, 0.2f, 0.3f}, {0.6f, 0.7f, 0.3f, 0.2f}}) + 0.05f * i;
    return sample;
  };
  const auto a = image(0), b = image(1);
  auto gradients = [&](std::vector<framework::Batch> batches) {
    at::Generator generator = at::detail::createCPUGenerator(0);
    step.run(batches, 0, /*lr_factor=*/0.0, generator);  // lr 0: the weights stay as they are
    std::vector<torch::Tensor> out;
    for (const auto& group : groups) {
      for (const auto& p : group.parameters) out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    return out;
  };
  std::vector<framework::Batch> whole;
  whole.push_back(framework::collate({a, b}, 0));
  std::vector<framework::Batch> split;
  split.push_back(framework::collate({a}, 0));
  split.push_back(framework::collate({b}, 1));
  const auto g_whole = gradients(std::move(whole));
  const auto g_split = gradients(std::move(split));
  ASSERT_EQ(g_whole.size(), g_split.size());
  double largest = 0;
  for (std::size_t i = 0; i < g_whole.size(); ++i) {
    largest = std::max(largest, g_whole[i].abs().max().item<double>());
    EXPECT_TRUE(torch::allclose(g_whole[i], g_split[i], 1e-4, 1e-6)) << groups.front().names.front() << " #" << i;
  }
  EXPECT_GT(largest, 0.0);
}

TEST(ModelEma, FollowsRfDetrsDecayWithWarmUp) {
  torch::nn::Linear layer(2, 1);
  framework::train::ModelEma ema(*layer, 0.9, 10.0);
  torch::NoGradGuard no_grad;
  const torch::Tensor start = layer->weight.clone();
  layer->weight.add_(1.0);
  ema.update();
  const double d = 0.9 * (1.0 - std::exp(-1.0 / 10.0));
  EXPECT_NEAR(ema.current_decay(), d, 1e-12);
  const torch::Tensor expected = d * start + (1 - d) * layer->weight;
  EXPECT_TRUE(torch::allclose(ema.named_tensors()[0].second, expected));
  // Swapping puts the average in the model and back.
  const torch::Tensor current = layer->weight.clone();
  ema.swap_into_model();
  EXPECT_TRUE(torch::allclose(layer->weight, expected));
  ema.swap_into_model();
  EXPECT_TRUE(torch::equal(layer->weight, current));
}

TEST(ModelEma, HoldsNoCopyOfFrozenParameters) {
  torch::nn::Linear layer(3, 2);
  layer->bias.set_requires_grad(false);  // frozen, as stage 2 freezes the detector
  framework::train::ModelEma ema(*layer, 0.5, 0.0);
  torch::NoGradGuard no_grad;
  layer->weight.add_(1.0);
  ema.update();
  std::map<std::string, torch::Tensor> named;
  for (const auto& [name, tensor] : ema.named_tensors()) named[name] = tensor;
  ASSERT_EQ(named.size(), 2u);  // checkpoints still name every parameter
  // The frozen bias is the model's own storage, not an average held beside it.
  EXPECT_EQ(named["bias"].data_ptr(), layer->bias.data_ptr());
  EXPECT_NE(named["weight"].data_ptr(), layer->weight.data_ptr());
  // Loading a checkpoint without the frozen name works; the average is restored.
  const torch::Tensor average = named["weight"].clone();
  ema.load({{"weight", average * 2}}, 7);
  EXPECT_TRUE(torch::equal(ema.named_tensors()[0].second, average * 2));
  EXPECT_EQ(ema.updates(), 7);
}

}  // namespace
}  // namespace rtseg
