// Every shipped size variant builds from its recipe and runs at a small resolution with the
// expected shapes; the nano model has RF-DETR's parameter count; every trainable parameter of a
// segmentation model receives a gradient.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>
#include <torch/torch.h>

#include <map>

#include "rtseg/framework/logging.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/model_summary.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/runtime.h"

namespace rtseg::framework {
namespace {

const std::filesystem::path kVariants = std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes/variants";

class Variants : public ::testing::Test {
 protected:
  std::shared_ptr<Model> build(const std::string& size, std::vector<std::string> overrides,
                               CheckedRecipe* checked_out = nullptr) {
    RecipeRequest request{kVariants / (size + ".toml"), "", std::nullopt, {}};
    for (const auto& item : overrides) request.overrides.push_back(parse_override(item));
    const LoadedRecipe recipe = load_recipe(request);
    const auto stages = expand_stages(recipe);
    const CheckedRecipe checked = check_recipe(stages.at(0).document, runtime_.registry());
    if (checked_out) *checked_out = checked;
    return build_model(runtime_.registry(), stages[0].document, checked, sdk::BuildContext{});
  }

  Runtime runtime_{[] {
    RuntimeOptions options;
    options.load_default_plugins = false;
    options.plugin_paths = {std::filesystem::path(RTSEG_BINARY_DIR) / "lib/rtseg/plugins"};
    options.logger = make_logger("variants", "off");
    return options;
  }()};
};

TEST_F(Variants, EveryVariantRunsWithTheExpectedShapes) {
  torch::manual_seed(0);
  struct Case {
    const char* size;
    std::int64_t resolution;  // small, but a multiple of patch x windows
    std::int64_t stride;      // of the first projector level
  };
  for (const Case& c : {Case{"nano", 128, 16}, Case{"small", 128, 16}, Case{"medium", 128, 16},
                        Case{"base", 112, 14}, Case{"large", 112, 7}}) {
    SCOPED_TRACE(c.size);
    CheckedRecipe checked;
    auto model = build(c.size, {"model.resolution=" + std::to_string(c.resolution),
                                "model.num_classes=4", "model.num_queries=30"},
                       &checked);
    torch::NoGradGuard no_grad;
    model->eval();
    const auto out = model->forward(torch::randn({1, 3, c.resolution, c.resolution}));
    const std::int64_t side = c.resolution / c.stride;
    EXPECT_EQ(out.features.at(0).sizes(),
              (std::vector<std::int64_t>{1, checked.model.hidden_dim, side, side}));
    const auto& last = out.detections.layers.back();
    EXPECT_EQ(last.logits.sizes(), (std::vector<std::int64_t>{1, 30, 5}));
    EXPECT_EQ(last.boxes.sizes(), (std::vector<std::int64_t>{1, 30, 4}));
    EXPECT_EQ(out.detections.layers.size(),
              static_cast<std::size_t>(model->decoder().spec().num_layers));
  }
}

TEST_F(Variants, InferencePathGivesTheFinalLayerOfTheFullForward) {
  for (const char* head : {"rfdetr_mask", "hires_mask"}) {
    SCOPED_TRACE(head);
    auto model = build("nano", {"model.resolution=64", "model.num_queries=12",
                                std::string("model.seg_head.type=") + head});
    torch::NoGradGuard no_grad;
    const torch::Tensor images = torch::randn({2, 3, 64, 64});
    model->eval();
    const auto full = model->forward(images);
    const Prediction prediction = model->predict(images);
    EXPECT_TRUE(torch::equal(prediction.detections.logits, full.detections.layers.back().logits));
    EXPECT_TRUE(torch::equal(prediction.detections.boxes, full.detections.layers.back().boxes));
    ASSERT_TRUE(prediction.masks.has_value());
    EXPECT_TRUE(torch::allclose(sdk::mask_logits(*prediction.masks),
                                sdk::mask_logits(full.masks->layers.back())));
  }
}

TEST_F(Variants, NanoHasRfDetrsParameterCount) {
  // RF-DETR-N with 91 class outputs: 30.47 M (rfdetr-architecture.md §1.4, README 30.5).
  auto model = build("nano", {"model.resolution=128"});
  const ModelSummary summary = summarize_model(*model, 128);
  EXPECT_NEAR(summary.total / 1e6, 30.47, 0.005);
  // Training-only: 12 extra groups of two-stage heads (enc_output 256x256+256, its LayerNorm 512,
  // class head 256x91+91, box MLP 2x(256x256+256)+256x4+4) and 12 x 300 query rows of 256+4.
  const std::int64_t per_group = (256 * 256 + 256) + 512 + (256 * 91 + 91) + 2 * (256 * 256 + 256) + (256 * 4 + 4);
  EXPECT_EQ(summary.total - summary.inference, 12 * per_group + 12 * 300 * (256 + 4));
}

// RF-DETR 1.4.1's own parameter counts for its published sizes (the configuration each size's
// config class defines, 91 class logits), computed once with RF-DETR's code:
//   python3 tests/model/rfdetr_param_counts.py --src DIR    (DIR: RF-DETR 1.4.1's source)
const std::map<std::string, std::int64_t> kRfDetrParameters = {
    {"rfdetr-nano", 30467298},      {"rfdetr-small", 32111170},      {"rfdetr-medium", 33687458},
    {"rfdetr-base", 32174530},      {"rfdetr-large", 33933218},      {"rfdetr-seg-nano", 33577475},
    {"rfdetr-seg-small", 33711107}, {"rfdetr-seg-medium", 35694259}, {"rfdetr-seg-large", 35873971},
    {"rfdetr-seg-xlarge", 38113635}, {"rfdetr-seg-2xlarge", 38648163},
};

TEST_F(Variants, RfDetrSizesHaveRfDetrsParameterCountsAndRun) {
  torch::manual_seed(0);
  for (const auto& [size, expected] : kRfDetrParameters) {
    SCOPED_TRACE(size);
    // The parameters do not depend on the resolution: run at a small one that the patches and
    // windows divide (patch 12 with one window included).
    const toml::table recipe = toml::parse_file((kVariants / (size + ".toml")).string());
    const std::int64_t patch = recipe.at_path("model.backbone.patch_size").value_or(std::int64_t{0});
    const std::int64_t windows = recipe.at_path("model.backbone.num_windows").value_or(std::int64_t{0});
    const std::int64_t queries = recipe.at_path("model.num_queries").value_or(std::int64_t{0});
    const std::int64_t resolution = patch * windows * (windows == 1 ? 8 : 4);
    auto model = build(size, {"model.resolution=" + std::to_string(resolution)});
    std::int64_t total = 0;
    for (const auto& parameter : model->parameters()) total += parameter.numel();
    EXPECT_EQ(total, expected);
    torch::NoGradGuard no_grad;
    model->eval();
    const auto out = model->forward(torch::randn({1, 3, resolution, resolution}));
    EXPECT_EQ(out.detections.layers.back().logits.sizes(), (std::vector<std::int64_t>{1, queries, 91}));
    ASSERT_EQ(model->seg_head() != nullptr, size.rfind("rfdetr-seg-", 0) == 0);
    if (model->seg_head()) {
      ASSERT_TRUE(out.masks.has_value());
      EXPECT_EQ(sdk::mask_logits(out.masks->layers.back()).sizes(),
                (std::vector<std::int64_t>{1, queries, resolution / 4, resolution / 4}));
    }
  }
}

TEST_F(Variants, SegmentationHeadSwapsByRecipeAndEveryParameterLearns) {
  for (const char* head : {"rfdetr_mask", "hires_mask"}) {
    SCOPED_TRACE(head);
    auto model = build("nano", {"model.resolution=64", "model.num_queries=10",
                                std::string("model.seg_head.type=") + head, "model.decoder.group_detr=2"});
    ASSERT_NE(model->seg_head(), nullptr);
    model->train();
    const auto out = model->forward(torch::randn({1, 3, 64, 64}));
    torch::Tensor loss = torch::zeros({});
    for (const auto& layer : out.detections.layers) loss = loss + layer.logits.mean() + layer.boxes.mean();
    loss = loss + out.detections.encoder.logits.mean() + out.detections.encoder.boxes.mean();
    for (const auto& masks : out.masks->layers) loss = loss + sdk::mask_logits(masks).mean();
    loss = loss + sdk::mask_logits(out.masks->encoder).mean();
    loss.backward();
    for (const auto& parameter : model->named_parameters()) {
      if (!parameter.value().requires_grad()) continue;
      // RF-DETR's mask_token is part of the checkpoint but not of the forward pass.
      if (parameter.key().find("mask_token") != std::string::npos) continue;
      EXPECT_TRUE(parameter.value().grad().defined()) << parameter.key();
    }
  }
}

}  // namespace
}  // namespace rtseg::framework
