#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rfdetr_mask_head.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::rfdetr_mask {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kDim = 16;
constexpr std::int64_t kLayers = 2;

sdk::BuildContext context() {
  sdk::BuildContext c;
  c.inputs = {sdk::FeatureSpec{"p4", kDim, 16}};
  c.decoder = sdk::DecoderSpec{kDim, kLayers};
  return c;
}

sdk::DecoderOutputs decoded(std::int64_t batch, std::int64_t queries) {
  sdk::DecoderOutputs out;
  for (std::int64_t i = 0; i < kLayers; ++i) {
    out.layers.push_back(sdk::QueryPredictions{torch::Tensor(), torch::Tensor(),
                                               torch::randn({batch, queries, kDim})});
  }
  out.encoder.features = torch::randn({batch, queries, kDim});
  return out;
}

TEST(RfdetrMaskHead, FactoredOutputsPerLayerAndForProposals) {
  torch::manual_seed(0);
  RfdetrMaskHead head(RfdetrMaskOptions{}, context());
  const torch::Tensor images = torch::randn({2, 3, 64, 48});
  const torch::Tensor features = torch::randn({2, kDim, 4, 3});
  const sdk::DecoderOutputs queries = decoded(2, 5);
  const sdk::MaskOutputs out = head.forward(images, {features}, queries);
  ASSERT_EQ(out.layers.size(), 2u);
  EXPECT_EQ(out.layers[1].pixels.sizes(), (std::vector<std::int64_t>{2, kDim, 16, 12}));
  EXPECT_EQ(out.layers[1].queries.sizes(), (std::vector<std::int64_t>{2, 5, kDim}));
  EXPECT_EQ(sdk::mask_logits(out.layers[1]).sizes(), (std::vector<std::int64_t>{2, 5, 16, 12}));

  // Proposal masks use the resized map itself (no blocks, no projection), as RF-DETR does.
  const torch::Tensor resized = torch::nn::functional::interpolate(
      features, torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<std::int64_t>{16, 12})
                    .mode(torch::kBilinear)
                    .align_corners(false));
  EXPECT_TRUE(torch::equal(out.encoder.pixels, resized));

  // The factored form gives RF-DETR's dense logits: einsum(bchw, bnc -> bnhw) + bias.
  const torch::Tensor dense = torch::einsum("bchw,bnc->bnhw", {out.layers[0].pixels, out.layers[0].queries}) +
                              out.layers[0].bias;
  EXPECT_TRUE(torch::allclose(sdk::mask_logits(out.layers[0]), dense));
}

TEST(RfdetrMaskHead, ParameterNamesAndCountAreRfDetrs) {
  RfdetrMaskHead head(RfdetrMaskOptions{}, context());
  std::vector<std::string> names;
  std::int64_t count = 0;
  for (const auto& parameter : head.named_parameters()) {
    names.push_back(parameter.key());
    count += parameter.value().numel();
  }
  std::sort(names.begin(), names.end());
  const std::vector<std::string> expected = {
      "bias", "blocks.0.dwconv.bias", "blocks.0.dwconv.weight", "blocks.0.norm.bias",
      "blocks.0.norm.weight", "blocks.0.pwconv1.bias", "blocks.0.pwconv1.weight",
      "blocks.1.dwconv.bias", "blocks.1.dwconv.weight", "blocks.1.norm.bias", "blocks.1.norm.weight",
      "blocks.1.pwconv1.bias", "blocks.1.pwconv1.weight", "query_features_block.layers.0.bias",
      "query_features_block.layers.0.weight", "query_features_block.layers.2.bias",
      "query_features_block.layers.2.weight", "query_features_block.norm_in.bias",
      "query_features_block.norm_in.weight", "query_features_proj.bias", "query_features_proj.weight",
      "spatial_features_proj.bias", "spatial_features_proj.weight"};
  EXPECT_EQ(names, expected);
  const std::int64_t d = kDim;
  const std::int64_t block = (9 * d + d) + 2 * d + (d * d + d);
  const std::int64_t query_block = 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d);
  EXPECT_EQ(count, kLayers * block + (d * d + d) + query_block + (d * d + d) + 1);
  EXPECT_EQ(head.state_prefix(), "segmentation_head");
}

TEST(RfdetrMaskHead, EveryParameterGetsAGradient) {
  RfdetrMaskHead head(RfdetrMaskOptions{}, context());
  const sdk::MaskOutputs out =
      head.forward(torch::randn({1, 3, 32, 32}), {torch::randn({1, kDim, 2, 2})}, decoded(1, 3));
  torch::Tensor total = sdk::mask_logits(out.encoder).sum();
  for (const auto& layer : out.layers) total = total + sdk::mask_logits(layer).sum();
  total.backward();
  for (const auto& parameter : head.named_parameters()) {
    ASSERT_TRUE(parameter.value().grad().defined()) << parameter.key();
    EXPECT_GT(parameter.value().grad().abs().sum().item<double>(), 0.0) << parameter.key();
  }
}

TEST(RfdetrMaskHead, RejectsMismatchedWidthsAndBadOptions) {
  sdk::BuildContext mismatched = context();
  mismatched.decoder.hidden_dim = kDim * 2;
  try {
    RfdetrMaskHead head(RfdetrMaskOptions{}, mismatched);
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("16 channels but the decoder's queries have 32"));
  }
  const auto doc = framework::RecipeDocument::parse_text("downsample_ratio = 0\n", "r.toml");
  sdk::ConfigReader reader(&doc.root(), "model.seg_head", "", doc.origin_lookup());
  EXPECT_THROW(rfdetr_mask_options_from(reader), sdk::ConfigError);
}

}  // namespace
}  // namespace rtseg::plugins::rfdetr_mask
