// Structure of the dinov2 backbone: output shapes and specs, parameter names and counts against
// RF-DETR's, the window/global attention schedule, windowing, freezing.
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dinov2_backbone.h"
#include "dinov2_test_support.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "windowing.h"

namespace rtseg::plugins::dinov2 {
namespace {

using ::testing::HasSubstr;

std::int64_t count_under(const torch::nn::Module& module, const std::string& prefix) {
  std::int64_t total = 0;
  for (const auto& p : module.named_parameters()) {
    if (p.key().rfind(prefix, 0) == 0) total += p.value().numel();
  }
  return total;
}

std::vector<std::int64_t> shape(const torch::Tensor& t) { return t.sizes().vec(); }

TEST(Dinov2Shapes, NanoLikeConfiguration) {
  // RF-DETR Nano's backbone (small preset, patch 16, 2x2 windows, taps [3, 6, 9, 12], P4, 256)
  // at 64 px instead of 384 to stay fast: 4x4 patches, windows of 2x2 patches.
  Dinov2Options options;
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(256));
  backbone->eval();
  EXPECT_EQ(backbone->size_divisibility(), 32);
  EXPECT_EQ(backbone->state_prefix(), "backbone.0");
  const sdk::FeatureSpecs spec = backbone->output_spec();
  ASSERT_EQ(spec.size(), 1u);
  EXPECT_EQ(spec[0].name, "p4");
  EXPECT_EQ(spec[0].channels, 256);
  EXPECT_EQ(spec[0].stride, 16);

  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({1, 3, 64, 64});
  const auto taps = backbone->vit().forward(images);
  ASSERT_EQ(taps.size(), 4u);
  for (const auto& tap : taps) EXPECT_EQ(shape(tap), (std::vector<std::int64_t>{1, 384, 4, 4}));
  const auto out = backbone->forward(images);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(shape(out[0]), (std::vector<std::int64_t>{1, 256, 4, 4}));

  // Counts from RF-DETR's module definitions (docs: one DINOv2-S layer 1,775,232, P4 projector
  // 4x384 -> 256 = 1,444,864, Nano ViT 21.821 M).
  EXPECT_EQ(count_under(*backbone, "encoder.encoder.encoder.layer.0."), 1775232);
  EXPECT_EQ(count_under(*backbone, "projector."), 1444864);
  const std::int64_t embeddings = 384 + 384 + (384 * 3 * 16 * 16 + 384) + (24 * 24 + 1) * 384;
  EXPECT_EQ(count_under(*backbone, "encoder.encoder.embeddings."), embeddings);
  EXPECT_EQ(count_under(*backbone, "encoder."), embeddings + 12 * 1775232 + 2 * 384);
  EXPECT_EQ(count_under(*backbone, "encoder."), 21821184);
}

TEST(Dinov2Shapes, TwelvePixelPatchesOneWindowNonSquare) {
  Dinov2Options options = testing::tiny_options();
  options.patch_size = 12;
  options.num_windows = 1;
  options.num_layers = 4;
  options.out_feature_indexes = {2, 4};
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  EXPECT_EQ(backbone->size_divisibility(), 12);
  torch::NoGradGuard no_grad;
  const auto out = backbone->forward(torch::randn({2, 3, 72, 48}));  // 6 x 4 patches
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(shape(out[0]), (std::vector<std::int64_t>{2, 16, 6, 4}));
  EXPECT_EQ(backbone->output_spec()[0].stride, 12);
}

TEST(Dinov2Shapes, NonSquareWindowedInput) {
  const auto backbone = make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(16));
  torch::NoGradGuard no_grad;
  const auto taps = backbone->vit().forward(torch::randn({2, 3, 64, 96}));  // 8 x 12 patches
  ASSERT_EQ(taps.size(), 3u);
  for (const auto& tap : taps) EXPECT_EQ(shape(tap), (std::vector<std::int64_t>{2, 32, 8, 12}));
  EXPECT_EQ(shape(backbone->forward(torch::randn({1, 3, 96, 64}))[0]),
            (std::vector<std::int64_t>{1, 16, 12, 8}));
}

TEST(Dinov2Shapes, ProjectorP3AndP5) {
  Dinov2Options options = testing::tiny_options();
  options.out_feature_indexes = {1, 3};
  options.projector_scale = {"P3", "P5"};
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(24));
  const sdk::FeatureSpecs spec = backbone->output_spec();
  ASSERT_EQ(spec.size(), 2u);
  EXPECT_EQ(spec[0].name, "p3");
  EXPECT_EQ(spec[0].stride, 4);
  EXPECT_EQ(spec[1].name, "p5");
  EXPECT_EQ(spec[1].stride, 16);
  torch::NoGradGuard no_grad;
  const auto out = backbone->forward(torch::randn({1, 3, 64, 32}));  // 8 x 4 patches
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(shape(out[0]), (std::vector<std::int64_t>{1, 24, 16, 8}));
  EXPECT_EQ(shape(out[1]), (std::vector<std::int64_t>{1, 24, 4, 2}));

  // RF-DETR's module tree: a transposed conv per tap for P3, a stride-2 ConvX per tap for P5.
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& p : backbone->named_parameters()) shapes[p.key()] = shape(p.value());
  EXPECT_EQ(shapes.at("projector.stages_sampling.0.1.0.weight"),
            (std::vector<std::int64_t>{32, 16, 2, 2}));
  EXPECT_EQ(shapes.at("projector.stages_sampling.0.1.0.bias"), (std::vector<std::int64_t>{16}));
  EXPECT_EQ(shapes.at("projector.stages_sampling.1.0.0.conv.weight"),
            (std::vector<std::int64_t>{32, 32, 3, 3}));
  EXPECT_EQ(shapes.at("projector.stages_sampling.1.0.0.bn.weight"),
            (std::vector<std::int64_t>{32}));
  EXPECT_EQ(shapes.at("projector.stages.0.0.cv1.conv.weight"),
            (std::vector<std::int64_t>{24, 32, 1, 1}));
  EXPECT_EQ(shapes.at("projector.stages.1.0.cv1.conv.weight"),
            (std::vector<std::int64_t>{24, 64, 1, 1}));
  EXPECT_EQ(shapes.at("projector.stages.1.0.m.0.cv2.conv.weight"),
            (std::vector<std::int64_t>{12, 12, 3, 3}));
  EXPECT_EQ(shapes.at("projector.stages.1.0.cv2.conv.weight"),
            (std::vector<std::int64_t>{24, 36, 1, 1}));
  EXPECT_EQ(shapes.at("projector.stages.1.1.weight"), (std::vector<std::int64_t>{24}));
}

TEST(Dinov2Shapes, ProjectorAllFourLevels) {
  Dinov2Options options = testing::tiny_options();
  options.projector_scale = {"P3", "P4", "P5", "P6"};
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  const sdk::FeatureSpecs spec = backbone->output_spec();
  ASSERT_EQ(spec.size(), 4u);
  const std::vector<std::string> names = {"p3", "p4", "p5", "p6"};
  const std::vector<std::int64_t> strides = {4, 8, 16, 32};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(spec[i].name, names[i]);
    EXPECT_EQ(spec[i].stride, strides[i]);
    EXPECT_EQ(spec[i].channels, 16);
  }
  torch::NoGradGuard no_grad;
  const auto out = backbone->forward(torch::randn({1, 3, 128, 64}));  // 16 x 8 patches
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(shape(out[0]), (std::vector<std::int64_t>{1, 16, 32, 16}));
  EXPECT_EQ(shape(out[1]), (std::vector<std::int64_t>{1, 16, 16, 8}));
  EXPECT_EQ(shape(out[2]), (std::vector<std::int64_t>{1, 16, 8, 4}));
  EXPECT_EQ(shape(out[3]), (std::vector<std::int64_t>{1, 16, 4, 2}));
  // P6 is the pooled P5 (kernel 1, stride 2 = every other cell), with no stage of its own.
  EXPECT_TRUE(
      torch::equal(out[3], out[2].index({"...", torch::indexing::Slice(0, torch::indexing::None, 2),
                                         torch::indexing::Slice(0, torch::indexing::None, 2)})));
  for (const auto& p : backbone->named_parameters()) {
    EXPECT_EQ(p.key().find("projector.stages.3"), std::string::npos) << p.key();
  }
}

TEST(Dinov2Shapes, RejectsInputsThatAreNotMultiplesOfTheWindowBlock) {
  const auto backbone = make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(16));
  try {
    backbone->forward(torch::zeros({1, 3, 64, 40}));
    FAIL() << "no error";
  } catch (const sdk::Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("multiples of 16 (patch_size x num_windows)"));
  }
}

TEST(Dinov2Schedule, GlobalLayersAreTheTappedOnes) {
  VitConfig nano;
  nano.out_feature_indexes = {3, 6, 9, 12};
  std::vector<std::int64_t> full;
  for (std::int64_t i = 0; i < nano.layers_to_run(); ++i) {
    if (nano.is_full_attention(i)) full.push_back(i);
  }
  EXPECT_EQ(full, (std::vector<std::int64_t>{3, 6, 9}));
  EXPECT_EQ(nano.layers_to_run(), 12);

  VitConfig base;
  base.out_feature_indexes = {2, 5, 8, 11};
  full.clear();
  for (std::int64_t i = 0; i < base.layers_to_run(); ++i) {
    if (base.is_full_attention(i)) full.push_back(i);
  }
  EXPECT_EQ(full, (std::vector<std::int64_t>{2, 5, 8}));
  EXPECT_EQ(base.layers_to_run(), 11);  // layer 11 (stage 12) would be unused
  EXPECT_TRUE(base.is_full_attention(11));
}

TEST(Dinov2Schedule, LayersAfterTheLastTapDoNotRun) {
  Dinov2Options options = testing::tiny_options();
  options.num_layers = 4;
  options.out_feature_indexes = {1, 2};
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : backbone->named_parameters()) {
      if (p.key().find(".layer.2.") != std::string::npos ||
          p.key().find(".layer.3.") != std::string::npos) {
        p.value().fill_(std::numeric_limits<float>::quiet_NaN());
      }
    }
  }
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(
      torch::isfinite(backbone->forward(torch::randn({1, 3, 32, 32}))[0]).all().item<bool>());
}

TEST(Dinov2Windowing, WindowsAreImageRowColumnOrderedAndInvertible) {
  // A 4 x 6 grid (values 100 * row + col), 2 x 2 windows of 2 x 3 patches.
  const torch::Tensor rows = torch::arange(4).view({4, 1}).expand({4, 6});
  const torch::Tensor cols = torch::arange(6).view({1, 6}).expand({4, 6});
  const torch::Tensor grid = (rows * 100 + cols).to(torch::kFloat).reshape({1, 24, 1});
  const torch::Tensor batch = torch::cat({grid, grid + 1000}, 0);  // two images
  const torch::Tensor windows = window_tokens(batch, 4, 6, 2);
  EXPECT_EQ(shape(windows), (std::vector<std::int64_t>{8, 6, 1}));
  // window 1 = image 0, window row 0, window column 1: rows 0-1, columns 3-5.
  EXPECT_TRUE(
      torch::equal(windows[1].flatten(), torch::tensor({3.f, 4.f, 5.f, 103.f, 104.f, 105.f})));
  // window 6 = image 1, window row 1, window column 0: rows 2-3, columns 0-2.
  EXPECT_TRUE(torch::equal(windows[6].flatten(),
                           torch::tensor({1200.f, 1201.f, 1202.f, 1300.f, 1301.f, 1302.f})));
  const torch::Tensor map = unwindow_to_map(windows, 4, 6, 2);
  EXPECT_EQ(shape(map), (std::vector<std::int64_t>{2, 1, 4, 6}));
  EXPECT_TRUE(torch::equal(map, batch.reshape({2, 4, 6, 1}).permute({0, 3, 1, 2})));
}

TEST(Dinov2Freeze, EncoderGetsNoGradientsProjectorDoes) {
  Dinov2Options options = testing::tiny_options();
  options.freeze = true;
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  backbone->train();
  for (const auto& p : backbone->named_parameters()) {
    EXPECT_EQ(p.value().requires_grad(), p.key().rfind("projector.", 0) == 0) << p.key();
  }
  backbone->forward(torch::randn({1, 3, 32, 32}))[0].square().sum().backward();
  for (const auto& p : backbone->named_parameters()) {
    if (p.key().rfind("projector.", 0) == 0) {
      EXPECT_TRUE(p.value().grad().defined()) << p.key();
    } else {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
  }
}

TEST(Dinov2Init, FollowsHuggingFaceDinov2) {
  torch::manual_seed(0);
  Dinov2Options options = testing::tiny_options();
  options.hidden_size = 128;
  options.num_heads = 4;
  options.num_register_tokens = 2;
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  std::int64_t checked = 0;
  for (const auto& p : backbone->named_parameters()) {
    const std::string& name = p.key();
    const torch::Tensor& value = p.value();
    if (name.rfind("encoder.", 0) != 0) continue;  // the projector keeps LibTorch's defaults
    const bool norm = name.find("norm") != std::string::npos;
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (name.find("lambda1") != std::string::npos || (norm && !bias)) {
      EXPECT_TRUE(torch::all(value == 1).item<bool>()) << name;
    } else if (bias || name.find("mask_token") != std::string::npos ||
               name.find("register_tokens") != std::string::npos) {
      EXPECT_TRUE(torch::all(value == 0).item<bool>()) << name;
    } else {  // linear / patch weights, cls token, position table: trunc-normal, std 0.02
      const double std = value.std().item<double>();
      EXPECT_NEAR(std, 0.02, value.numel() > 1000 ? 0.002 : 0.008) << name;
      EXPECT_LT(value.abs().max().item<double>(), 0.2) << name;
    }
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

// The RF-DETR fixture's weights name every backbone tensor; ours must be exactly those.
TEST(Dinov2Names, MatchRfDetrCheckpoint) {
  const std::filesystem::path weights =
      std::filesystem::path(RTSEG_RFDETR_FIXTURES) / "tiny_seg" / "weights.safetensors";
  if (!std::filesystem::exists(weights)) GTEST_SKIP() << "no RF-DETR fixtures at " << weights;
  Dinov2Options options;  // the fixture's config.json
  options.hidden_size = 64;
  options.num_heads = 2;
  options.num_layers = 4;
  options.positional_encoding_size = 8;
  options.out_feature_indexes = {1, 2, 3, 4};
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(64));

  const sdk::SafetensorsFile file = sdk::SafetensorsFile::open(weights);
  std::map<std::string, std::vector<std::int64_t>> theirs;
  for (const std::string& name : file.names()) {
    if (name.rfind("backbone.0.", 0) == 0) theirs[name.substr(11)] = shape(file.get(name));
  }
  std::map<std::string, std::vector<std::int64_t>> ours;
  for (const auto& p : backbone->named_parameters()) ours[p.key()] = shape(p.value());
  EXPECT_EQ(ours, theirs);
}

}  // namespace
}  // namespace rtseg::plugins::dinov2
