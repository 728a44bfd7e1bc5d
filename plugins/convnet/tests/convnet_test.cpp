// The convnet backbone: shapes, spec, options, and that it learns.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "convnet_backbone.h"
#include "options.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::convnet {
namespace {

using ::testing::HasSubstr;

sdk::BuildContext context_with(std::int64_t hidden_dim) {
  sdk::BuildContext context;
  context.model.hidden_dim = hidden_dim;
  return context;
}

TEST(ConvNet, OneMapAtTheOutputStrideWithHiddenDimChannels) {
  for (const std::int64_t stride : {8, 16}) {
    ConvNetOptions options;
    options.output_stride = stride;
    auto backbone = make_convnet(options, context_with(64));
    const auto spec = backbone->output_spec();
    ASSERT_EQ(spec.size(), 1u);
    EXPECT_EQ(spec[0].channels, 64);
    EXPECT_EQ(spec[0].stride, stride);
    EXPECT_EQ(backbone->size_divisibility(), stride);
    const auto maps = backbone->forward(torch::randn({2, 3, 96, 64}));
    ASSERT_EQ(maps.size(), 1u);
    EXPECT_EQ(maps[0].sizes().vec(), (std::vector<std::int64_t>{2, 64, 96 / stride, 64 / stride}));
  }
}

TEST(ConvNet, RejectsSizesThatAreNotMultiplesOfTheStride) {
  auto backbone = make_convnet(ConvNetOptions{}, context_with(32));
  EXPECT_THROW(backbone->forward(torch::randn({1, 3, 60, 64})), sdk::Error);
  EXPECT_THROW(make_convnet(ConvNetOptions{}, context_with(30)), sdk::ConfigError);
}

TEST(ConvNet, OptionsAreValidated) {
  const auto document = framework::RecipeDocument::parse_text(
      "[model.backbone]\nwidth = 12\noutput_stride = 4\n", "b.toml");
  sdk::ConfigReader reader(document.root().at_path("model.backbone").as_table(), "model.backbone", "backbone 'convnet'",
                           document.origin_lookup());
  try {
    convnet_options_from(reader);
    reader.finish();
    FAIL() << "expected an error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("width"));
  }
}

// A few steps of Adam fit a fixed target: gradients reach every parameter.
TEST(ConvNet, EveryParameterLearns) {
  torch::manual_seed(0);
  auto backbone = make_convnet(ConvNetOptions{}, context_with(32));
  const torch::Tensor images = torch::randn({2, 3, 32, 32});
  const torch::Tensor target = torch::randn({2, 32, 4, 4});
  torch::optim::Adam adam(backbone->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    adam.zero_grad();
    const torch::Tensor loss = (backbone->forward(images)[0] - target).pow(2).mean();
    loss.backward();
    if (step == 0) {
      first = loss.item<double>();
      for (const auto& p : backbone->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
    }
    last = loss.item<double>();
    adam.step();
  }
  EXPECT_LT(last, 0.7 * first);
}

}  // namespace
}  // namespace rtseg::plugins::convnet
