// Numbers against PyTorch and against RF-DETR 1.4.1's own backbone code (run with python3 at test
// time; skipped with a message when python3 with torch, or RF-DETR's sources, are missing).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dinov2_backbone.h"
#include "dinov2_test_support.h"
#include "embeddings.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"

namespace rtseg::plugins::dinov2 {
namespace {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(Dinov2PositionEmbeddings, KeptWhenTheGridMatchesAndTheImageIsSquare) {
  const torch::Tensor table = torch::randn({1, 1 + 16, 8});
  // 4 x 4 patches of 8 px: the table as is (the same tensor, no copy).
  EXPECT_TRUE(position_embeddings_for(table, 8, 32, 32).is_same(table));
  // 2 x 8 patches: as many positions, but not square, so RF-DETR resizes.
  const torch::Tensor wide = position_embeddings_for(table, 8, 16, 64);
  EXPECT_FALSE(wide.is_same(table));
  EXPECT_EQ(wide.sizes().vec(), (std::vector<std::int64_t>{1, 17, 8}));
  // The CLS row is never resized.
  EXPECT_TRUE(torch::equal(wide[0][0], table[0][0]));
  EXPECT_EQ(position_embeddings_for(table, 8, 48, 48).size(1), 1 + 36);
}

TEST(Dinov2PositionEmbeddings, ResizeEqualsPyTorchAntialiasedBicubic) {
  const std::string python = testing::python_with_torch();
  if (python.empty())
    GTEST_SKIP() << "python3 with torch and numpy not found; cannot compute the reference";
  rtseg::testing::TempDir dir;
  torch::manual_seed(3);
  const torch::Tensor table = torch::randn({1, 1 + 25, 6});  // a 5 x 5 grid
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {
      {8, 8}, {3, 3}, {4, 7}, {5, 5}, {12, 2}};
  sdk::save_safetensors(dir / "table.safetensors", {{"table", table}});
  std::string size_args;
  for (const auto& [h, w] : sizes) size_args += " " + std::to_string(h) + "x" + std::to_string(w);
  // RF-DETR's interpolate_pos_encoding with F.interpolate, in fp32.
  const std::string script = R"PY(
import json, struct, sys
import numpy as np, torch
import torch.nn.functional as F
def read(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]; header = json.loads(f.read(n)); data = f.read()
    e = header['table']; b, t = e['data_offsets']
    return torch.from_numpy(np.frombuffer(data[b:t], dtype='<f4').reshape(e['shape']).copy())
table = read(sys.argv[1]); side = 5; dim = table.shape[-1]
grid = table[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
for i, size in enumerate(sys.argv[3:]):
    h, w = map(int, size.split('x'))
    out = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False, antialias=True)
    out = torch.cat((table[:, :1], out.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)
    out.numpy().astype('<f4').tofile(f'{sys.argv[2]}/expected_{i}.bin')
)PY";
  std::ofstream(dir / "resize.py") << script;
  const auto result = rtseg::testing::run(python + " " + (dir / "resize.py").string() + " " +
                                          (dir / "table.safetensors").string() + " " +
                                          dir.path().string() + size_args);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto [h, w] = sizes[i];
    const torch::Tensor ours = resize_position_table(table, h, w);
    ASSERT_EQ(ours.sizes().vec(), (std::vector<std::int64_t>{1, 1 + h * w, 6}));
    std::ifstream in(dir / ("expected_" + std::to_string(i) + ".bin"), std::ios::binary);
    torch::Tensor expected = torch::empty_like(ours);
    in.read(reinterpret_cast<char*>(expected.data_ptr<float>()),
            static_cast<std::streamsize>(expected.numel() * sizeof(float)));
    ASSERT_TRUE(in.good()) << "short reference file " << i;
    EXPECT_LE(max_abs_diff(ours, expected), 1e-6) << h << "x" << w;
  }
  // Antialiased bicubic is not plain bicubic when downsampling: the test can tell them apart.
  const torch::Tensor grid = table.narrow(1, 1, 25).reshape({1, 5, 5, 6}).permute({0, 3, 1, 2});
  const torch::Tensor plain = torch::upsample_bicubic2d(grid, {3, 3}, false);
  const torch::Tensor ours = resize_position_table(table, 3, 3)
                                 .narrow(1, 1, 9)
                                 .reshape({1, 3, 3, 6})
                                 .permute({0, 3, 1, 2});
  EXPECT_GT(max_abs_diff(ours, plain), 1e-3);
}

// ---- parity with RF-DETR's WindowedDinov2WithRegistersBackbone + MultiScaleProjector ---------

struct ParityCase {
  std::string name;
  Dinov2Options options;
  std::int64_t out_channels;
  torch::Tensor images;
  std::filesystem::path weights;  // RF-DETR-named weights; empty = ours, perturbed and written
};

std::string case_json(const Dinov2Options& o, std::int64_t out_channels) {
  const VitConfig vit = vit_config_from(o);
  const auto list = [](const auto& values, bool quote) {
    std::string text = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::string item;
      if constexpr (std::is_same_v<std::decay_t<decltype(values[i])>, std::string>)
        item = values[i];
      else
        item = std::to_string(values[i]);
      text += (i ? ", " : "") + (quote ? "\"" + item + "\"" : item);
    }
    return text + "]";
  };
  return "{\"hidden_size\": " + std::to_string(vit.hidden_size) +
         ", \"num_heads\": " + std::to_string(vit.num_heads) +
         ", \"num_layers\": " + std::to_string(vit.num_layers) +
         ", \"patch_size\": " + std::to_string(vit.patch_size) +
         ", \"num_windows\": " + std::to_string(vit.num_windows) +
         ", \"positional_encoding_size\": " + std::to_string(vit.positional_encoding_size) +
         ", \"num_register_tokens\": " + std::to_string(vit.num_register_tokens) +
         ", \"out_feature_indexes\": " + list(vit.out_feature_indexes, false) +
         ", \"projector_scale\": " + list(o.projector_scale, true) +
         ", \"projector_blocks\": " + std::to_string(o.projector_blocks) +
         ", \"out_channels\": " + std::to_string(out_channels) + "}";
}

void load_rfdetr_weights(Dinov2Backbone& backbone, const std::filesystem::path& file) {
  const sdk::SafetensorsFile weights = sdk::SafetensorsFile::open(file);
  torch::NoGradGuard no_grad;
  for (auto& p : backbone.named_parameters()) p.value().copy_(weights.get("backbone.0." + p.key()));
}

TEST(Dinov2RfDetrParity, BackboneMatchesRfDetrCode) {
  const std::string python = testing::python_with_torch();
  if (python.empty()) GTEST_SKIP() << "python3 with torch and numpy not found";
  const std::filesystem::path sources = testing::rfdetr_backbone_sources();
  if (!std::filesystem::exists(sources / "dinov2_with_windowed_attn.py")) {
    GTEST_SKIP() << "RF-DETR sources not found at " << sources;
  }
  torch::manual_seed(11);
  std::vector<ParityCase> cases;
  const std::filesystem::path fixtures(RTSEG_RFDETR_FIXTURES);
  if (std::filesystem::exists(fixtures / "tiny_seg" / "weights.safetensors")) {
    Dinov2Options fixture;  // tiny_seg's config.json
    fixture.hidden_size = 64;
    fixture.num_heads = 2;
    fixture.num_layers = 4;
    fixture.positional_encoding_size = 8;
    fixture.out_feature_indexes = {1, 2, 3, 4};
    for (const char* folder : {"tiny_seg", "tiny_seg_160"}) {  // 128 px: table as is; 160: resized
      const auto input = sdk::SafetensorsFile::open(fixtures / folder / "input.safetensors");
      cases.push_back({folder, fixture, 64, input.get(input.names().front()).clone(),
                       fixtures / folder / "weights.safetensors"});
    }
  }
  Dinov2Options registers = testing::tiny_options();  // registers, resized table, P3 + P4 + P5
  registers.num_heads = 4;
  registers.num_register_tokens = 2;
  registers.out_feature_indexes = {1, 3};
  registers.projector_scale = {"P3", "P4", "P5"};
  registers.projector_blocks = 2;
  cases.push_back({"registers", registers, 24, torch::randn({2, 3, 48, 48}), {}});
  Dinov2Options single = testing::tiny_options();  // no windows, 12 px patches, table as is
  single.patch_size = 12;
  single.num_windows = 1;
  single.out_feature_indexes = {2, 3};
  cases.push_back({"one_window", single, 16, torch::randn({1, 3, 48, 48}), {}});

  rtseg::testing::TempDir dir;
  std::string case_dirs;
  std::vector<std::shared_ptr<Dinov2Backbone>> backbones;
  for (const ParityCase& c : cases) {
    const std::filesystem::path folder = dir / c.name;
    std::filesystem::create_directories(folder);
    std::shared_ptr<Dinov2Backbone> backbone =
        make_dinov2(c.options, testing::context_with_hidden_dim(c.out_channels));
    backbone->eval();
    if (c.weights.empty()) {
      // Perturb like the fixtures so that zero-initialised biases and unit scales are exercised.
      torch::NoGradGuard no_grad;
      NamedTensors named;
      for (auto& p : backbone->named_parameters()) {
        p.value().add_(torch::randn_like(p.value()) * 0.02);
        named.emplace_back("backbone.0." + p.key(), p.value());
      }
      sdk::save_safetensors(folder / "weights.safetensors", named);
    } else {
      load_rfdetr_weights(*backbone, c.weights);
      std::filesystem::copy_file(c.weights, folder / "weights.safetensors");
    }
    sdk::save_safetensors(folder / "input.safetensors", {{"images", c.images}});
    std::ofstream(folder / "case.json") << case_json(c.options, c.out_channels);
    case_dirs += " " + folder.string();
    backbones.push_back(backbone);
  }
  const auto result = rtseg::testing::run(
      python + " " + (testing::plugin_test_dir() / "rfdetr_backbone_reference.py").string() + " " +
      sources.string() + case_dirs);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ParityCase& c = cases[i];
    const auto reference = sdk::SafetensorsFile::open(dir / c.name / "reference.safetensors");
    const auto taps = backbones[i]->vit().forward(c.images);
    const auto levels = backbones[i]->projector().forward(taps);
    for (std::size_t k = 0; k < taps.size(); ++k) {
      const torch::Tensor expected = reference.get("tap." + std::to_string(k));
      ASSERT_EQ(taps[k].sizes(), expected.sizes()) << c.name << " tap " << k;
      EXPECT_LE(max_abs_diff(taps[k], expected), 1e-5) << c.name << " tap " << k;
    }
    ASSERT_EQ(levels.size(), c.options.projector_scale.size()) << c.name;
    for (std::size_t k = 0; k < levels.size(); ++k) {
      const torch::Tensor expected = reference.get("level." + std::to_string(k));
      ASSERT_EQ(levels[k].sizes(), expected.sizes()) << c.name << " level " << k;
      EXPECT_LE(max_abs_diff(levels[k], expected), 1e-5) << c.name << " level " << k;
    }
  }
}

}  // namespace
}  // namespace rtseg::plugins::dinov2
