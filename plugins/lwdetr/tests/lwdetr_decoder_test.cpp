// Behaviour of the whole decoder: shapes, group isolation, parameter names and counts,
// initialisation, gradients and the non-default paths.
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include "decoder_layer.h"
#include "lwdetr_decoder.h"
#include "test_helpers.h"

namespace rtseg::plugins::lwdetr {
namespace {

using testing::max_difference;
using testing::perturb;
using testing::random_inputs;
using testing::tiny_context;
using testing::tiny_options;

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t count = 0;
  std::set<const void*> seen;  // a shared module's parameters count once
  for (const auto& parameter : module.parameters()) {
    if (seen.insert(parameter.data_ptr()).second) count += parameter.numel();
  }
  return count;
}

// Image 1 has padding on its right and bottom quarter.
testing::Inputs padded_inputs(std::int64_t hidden, std::int64_t levels = 1) {
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{8, 8}, {4, 4}};
  sizes.resize(static_cast<std::size_t>(levels));
  testing::Inputs in = random_inputs(2, hidden, sizes);
  for (auto& mask : in.masks) {
    const std::int64_t h = mask.size(1), w = mask.size(2);
    mask[1].narrow(0, h - h / 4, h / 4).fill_(true);
    mask[1].narrow(1, w - w / 4, w / 4).fill_(true);
  }
  return in;
}

TEST(LwDetrDecoder, OutputShapesInTrainingAndEval) {
  torch::manual_seed(0);
  auto decoder = make_lwdetr(tiny_options(), tiny_context());
  const auto in = padded_inputs(64);
  decoder->train();
  const sdk::DecoderOutputs train = decoder->forward(in.features, in.masks);
  EXPECT_EQ(train.num_groups, 13);
  ASSERT_EQ(train.layers.size(), 2u);
  for (const auto& layer : train.layers) {
    EXPECT_EQ(layer.logits.sizes(), (std::vector<std::int64_t>{2, 260, 4}));
    EXPECT_EQ(layer.boxes.sizes(), (std::vector<std::int64_t>{2, 260, 4}));
    EXPECT_EQ(layer.features.sizes(), (std::vector<std::int64_t>{2, 260, 64}));
  }
  EXPECT_EQ(train.encoder.logits.sizes(), (std::vector<std::int64_t>{2, 260, 4}));
  EXPECT_EQ(train.encoder.boxes.sizes(), (std::vector<std::int64_t>{2, 260, 4}));
  EXPECT_EQ(train.encoder.features.sizes(), (std::vector<std::int64_t>{2, 260, 64}));

  decoder->eval();
  torch::NoGradGuard no_grad;
  const sdk::DecoderOutputs eval = decoder->forward(in.features, in.masks);
  EXPECT_EQ(eval.num_groups, 1);
  EXPECT_EQ(eval.layers.back().logits.sizes(), (std::vector<std::int64_t>{2, 20, 4}));
  EXPECT_EQ(eval.encoder.boxes.sizes(), (std::vector<std::int64_t>{2, 20, 4}));
  EXPECT_EQ(decoder->spec().hidden_dim, 64);
  EXPECT_EQ(decoder->spec().num_layers, 2);
  EXPECT_EQ(decoder->state_prefix(), "");
}

// Eval must equal group 0 of training: groups never attend to each other and group 0 uses the
// same query rows and proposal head.
void expect_eval_is_group_zero(const LwDetrOptions& options, std::int64_t levels) {
  torch::manual_seed(1);
  auto decoder = make_lwdetr(options, tiny_context(levels));
  perturb(*decoder);
  const auto in = padded_inputs(64, levels);
  torch::NoGradGuard no_grad;
  decoder->train();
  const sdk::DecoderOutputs train = decoder->forward(in.features, in.masks);
  decoder->eval();
  const sdk::DecoderOutputs eval = decoder->forward(in.features, in.masks);
  auto first = [](const torch::Tensor& x) { return x.narrow(1, 0, 20); };
  for (std::size_t l = 0; l < eval.layers.size(); ++l) {
    EXPECT_LE(max_difference(eval.layers[l].logits, first(train.layers[l].logits)), 1e-5) << l;
    EXPECT_LE(max_difference(eval.layers[l].boxes, first(train.layers[l].boxes)), 1e-5) << l;
    EXPECT_LE(max_difference(eval.layers[l].features, first(train.layers[l].features)), 1e-5);
  }
  EXPECT_EQ(eval.encoder.logits.defined(), options.two_stage);
  if (options.two_stage) {
    EXPECT_LE(max_difference(eval.encoder.logits, first(train.encoder.logits)), 1e-5);
    EXPECT_LE(max_difference(eval.encoder.boxes, first(train.encoder.boxes)), 1e-5);
    EXPECT_LE(max_difference(eval.encoder.features, first(train.encoder.features)), 1e-5);
  }
  // And the other groups really differ (they have their own queries and proposal heads).
  EXPECT_GT(max_difference(first(train.layers.back().logits),
                           train.layers.back().logits.narrow(1, 20, 20)), 1e-4);
}

TEST(LwDetrDecoder, EvalEqualsGroupZeroOfTraining) {
  expect_eval_is_group_zero(tiny_options(), 1);
}

TEST(LwDetrDecoder, EvalEqualsGroupZeroOfTrainingOnOtherPaths) {
  LwDetrOptions sigmoid_refine = tiny_options();
  sigmoid_refine.bbox_reparam = false;
  sigmoid_refine.lite_refpoint_refine = false;
  sigmoid_refine.decoder_norm = "Identity";
  expect_eval_is_group_zero(sigmoid_refine, 2);
  LwDetrOptions one_stage = tiny_options();
  one_stage.two_stage = false;
  expect_eval_is_group_zero(one_stage, 2);
}

TEST(LwDetrDecoder, ChangingGroupOneQueriesLeavesGroupZeroUnchanged) {
  torch::manual_seed(2);
  auto decoder = make_lwdetr(tiny_options(), tiny_context());
  perturb(*decoder);
  decoder->train();
  const auto in = padded_inputs(64);
  torch::NoGradGuard no_grad;
  const sdk::DecoderOutputs before = decoder->forward(in.features, in.masks);
  decoder->named_parameters()["query_feat.weight"].narrow(0, 20, 20).add_(1.0);
  const sdk::DecoderOutputs after = decoder->forward(in.features, in.masks);
  for (std::size_t l = 0; l < before.layers.size(); ++l) {
    EXPECT_TRUE(torch::equal(before.layers[l].features.narrow(1, 0, 20),
                             after.layers[l].features.narrow(1, 0, 20)));
    EXPECT_TRUE(torch::equal(before.layers[l].features.narrow(1, 40, 220),
                             after.layers[l].features.narrow(1, 40, 220)));
    EXPECT_FALSE(torch::allclose(before.layers[l].features.narrow(1, 20, 20),
                                 after.layers[l].features.narrow(1, 20, 20)));
  }
}

TEST(LwDetrDecoder, ParameterNamesAndShapesFollowRfDetr) {
  auto decoder = make_lwdetr(tiny_options(), tiny_context());
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& p : decoder->named_parameters()) {
    shapes[p.key()] = p.value().sizes().vec();
  }
  // A sample of RF-DETR's tiny segmentation model (hidden 64, 20 queries x 13 groups, 4 logits).
  const std::map<std::string, std::vector<std::int64_t>> expected = {
      {"transformer.decoder.layers.1.self_attn.in_proj_weight", {192, 64}},
      {"transformer.decoder.layers.1.self_attn.in_proj_bias", {192}},
      {"transformer.decoder.layers.1.self_attn.out_proj.weight", {64, 64}},
      {"transformer.decoder.layers.0.cross_attn.sampling_offsets.weight", {16, 64}},
      {"transformer.decoder.layers.0.cross_attn.attention_weights.bias", {8}},
      {"transformer.decoder.layers.0.cross_attn.value_proj.weight", {64, 64}},
      {"transformer.decoder.layers.0.cross_attn.output_proj.bias", {64}},
      {"transformer.decoder.layers.0.linear1.weight", {128, 64}},
      {"transformer.decoder.layers.0.linear2.weight", {64, 128}},
      {"transformer.decoder.layers.0.norm3.weight", {64}},
      {"transformer.decoder.norm.bias", {64}},
      {"transformer.decoder.ref_point_head.layers.0.weight", {64, 128}},
      {"transformer.decoder.ref_point_head.layers.1.weight", {64, 64}},
      {"transformer.enc_output.12.weight", {64, 64}},
      {"transformer.enc_output_norm.12.bias", {64}},
      {"transformer.enc_out_class_embed.12.weight", {4, 64}},
      {"transformer.enc_out_bbox_embed.12.layers.2.weight", {4, 64}},
      {"class_embed.weight", {4, 64}},
      {"bbox_embed.layers.2.bias", {4}},
      {"refpoint_embed.weight", {260, 4}},
      {"query_feat.weight", {260, 64}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name;
  }
  // 2 layers x 22 + decoder norm 2 + ref_point_head 4 + 13 groups x (2 + 2 + 2 + 6) + class 2 +
  // bbox 6 + 2 query tables.
  EXPECT_EQ(shapes.size(), 2u * 22 + 2 + 4 + 13 * 12 + 2 + 6 + 2);
  EXPECT_EQ(shapes.count("transformer.decoder.bbox_embed.layers.0.weight"), 0u);
}

TEST(LwDetrDecoder, WithoutLiteRefinementTheBoxHeadIsSharedWithTheDecoder) {
  LwDetrOptions options = tiny_options();
  options.lite_refpoint_refine = false;
  options.two_stage = false;
  options.decoder_norm = "Identity";
  auto decoder = make_lwdetr(options, tiny_context());
  auto params = decoder->named_parameters();
  ASSERT_TRUE(params.contains("transformer.decoder.bbox_embed.layers.0.weight"));
  EXPECT_EQ(params["transformer.decoder.bbox_embed.layers.0.weight"].data_ptr(),
            params["bbox_embed.layers.0.weight"].data_ptr());
  EXPECT_FALSE(params.contains("transformer.decoder.norm.weight"));
  EXPECT_FALSE(params.contains("transformer.enc_output.0.weight"));
}

std::int64_t linear_count(std::int64_t in, std::int64_t out) { return in * out + out; }

TEST(LwDetrDecoder, ParameterCountsMatchTheAnalyticCount) {
  // One RF-DETR decoder layer: d 256, 8 SA heads, 16 CA heads, 1 level, 2 points, FFN 2048.
  DecoderLayerOptions layer;
  layer.d_model = 256;
  layer.sa_nheads = 8;
  layer.ca_nheads = 16;
  layer.dim_feedforward = 2048;
  layer.n_levels = 1;
  layer.n_points = 2;
  EXPECT_EQ(count_parameters(*DecoderLayer(layer)), 1471840);

  // The whole decoder of RF-DETR Nano (2 layers, 91 logits, 300 queries x 13 groups).
  LwDetrOptions nano;
  nano.dec_layers = 2;
  sdk::BuildContext context = tiny_context(1, 256);
  context.model.num_queries = 300;
  context.model.num_classes = 90;
  const std::int64_t d = 256, logits = 91, rows = 300 * 13;
  const std::int64_t box_head = 2 * linear_count(d, d) + linear_count(d, 4);
  const std::int64_t expected = 2 * 1471840 + 2 * d                            // layers, norm
                                + linear_count(2 * d, d) + linear_count(d, d)  // ref_point_head
                                + 13 * (linear_count(d, d) + 2 * d + linear_count(d, logits) +
                                        box_head)                              // proposal heads
                                + linear_count(d, logits) + box_head           // heads
                                + rows * 4 + rows * d;                         // query tables
  EXPECT_EQ(expected, 3141312 + 2889939 + 1169999);  // RF-DETR Nano's figures
  EXPECT_EQ(count_parameters(*make_lwdetr(nano, context)), expected);
}

TEST(LwDetrDecoder, InitialisesLikeRfDetr) {
  torch::manual_seed(5);
  auto decoder = make_lwdetr(tiny_options(), tiny_context());
  auto p = decoder->named_parameters();
  const float prior_bias = static_cast<float>(-std::log((1 - 0.01) / 0.01));
  EXPECT_TRUE(torch::allclose(p["class_embed.bias"], torch::full({4}, prior_bias)));
  EXPECT_EQ(p["bbox_embed.layers.2.weight"].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(p["bbox_embed.layers.2.bias"].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(p["refpoint_embed.weight"].abs().sum().item<float>(), 0.0f);
  EXPECT_NEAR(p["query_feat.weight"].std().item<float>(), 1.0f, 0.05f);  // N(0, 1)
  // Proposal heads start as copies of the heads but are separate parameters.
  for (const std::string g : {"0", "12"}) {
    EXPECT_TRUE(torch::equal(p["transformer.enc_out_class_embed." + g + ".weight"],
                             p["class_embed.weight"]));
    EXPECT_TRUE(torch::equal(p["transformer.enc_out_bbox_embed." + g + ".layers.0.weight"],
                             p["bbox_embed.layers.0.weight"]));
    EXPECT_NE(p["transformer.enc_out_class_embed." + g + ".weight"].data_ptr(),
              p["class_embed.weight"].data_ptr());
  }
  // Xavier-uniform matrices in the transformer: bound sqrt(6 / (fan_in + fan_out)).
  const torch::Tensor w = p["transformer.decoder.layers.0.linear1.weight"];  // [128, 64]
  EXPECT_LE(w.abs().max().item<float>(), std::sqrt(6.0f / 192));
  EXPECT_GT(w.abs().max().item<float>(), 0.9f * std::sqrt(6.0f / 192));
  EXPECT_FALSE(torch::equal(w, p["transformer.decoder.layers.1.linear1.weight"]));
  // Layers are copies of one layer before the reset: their 1-d parameters start equal.
  EXPECT_TRUE(torch::equal(p["transformer.decoder.layers.0.linear1.bias"],
                           p["transformer.decoder.layers.1.linear1.bias"]));
  EXPECT_EQ(p["transformer.decoder.layers.0.self_attn.in_proj_bias"].abs().sum().item<float>(), 0);
}

TEST(LwDetrDecoder, EveryParameterGetsAGradientInTraining) {
  torch::manual_seed(6);
  auto decoder = make_lwdetr(tiny_options(), tiny_context(2));
  perturb(*decoder);
  decoder->train();
  const auto in = padded_inputs(64, 2);
  const sdk::DecoderOutputs out = decoder->forward(in.features, in.masks);
  torch::Tensor loss = out.encoder.logits.sum() + out.encoder.boxes.sum() +
                       out.encoder.features.sum();
  for (const auto& layer : out.layers) {
    loss = loss + layer.logits.sum() + layer.boxes.sum() + layer.features.sum();
  }
  loss.backward();
  for (const auto& p : decoder->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(LwDetrDecoder, FewerCellsThanQueriesKeepsTheRemainingReferenceRows) {
  // 3 x 3 = 9 cells < 20 queries: each group proposes 9 boxes; eval composes rows 0..8 and keeps
  // rows 9..19 of refpoint_embed as they are (RF-DETR's behaviour).
  torch::manual_seed(7);
  auto decoder = make_lwdetr(tiny_options(), tiny_context());
  perturb(*decoder);
  decoder->eval();
  const auto in = random_inputs(1, 64, {{3, 3}});
  torch::NoGradGuard no_grad;
  const sdk::DecoderOutputs out = decoder->forward(in.features, in.masks);
  EXPECT_EQ(out.encoder.boxes.size(1), 9);
  EXPECT_EQ(out.layers.back().boxes.size(1), 20);
  EXPECT_TRUE(torch::isfinite(out.layers.back().boxes).all().item<bool>());
}

}  // namespace
}  // namespace rtseg::plugins::lwdetr
