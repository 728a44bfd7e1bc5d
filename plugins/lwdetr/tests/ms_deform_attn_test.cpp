// Multi-scale deformable attention against a naive implementation written here: bilinear
// sampling by hand, pixel by pixel, with zeros outside the map (align_corners = false).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/nn/init.h>

#include "ms_deform_attn.h"
#include "test_helpers.h"

namespace rtseg::plugins::lwdetr {
namespace {

// value_map: [channels, H, W]; (x, y) normalised to [0, 1] over the map's edges.
std::vector<double> bilinear(const torch::Tensor& value_map, double x, double y) {
  const std::int64_t channels = value_map.size(0);
  const std::int64_t height = value_map.size(1);
  const std::int64_t width = value_map.size(2);
  const auto v = value_map.accessor<float, 3>();
  // Pixel centres sit at (i + 0.5) / size.
  const double px = x * width - 0.5;
  const double py = y * height - 0.5;
  const auto x0 = static_cast<std::int64_t>(std::floor(px));
  const auto y0 = static_cast<std::int64_t>(std::floor(py));
  std::vector<double> out(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t dy = 0; dy <= 1; ++dy) {
    for (std::int64_t dx = 0; dx <= 1; ++dx) {
      const std::int64_t xi = x0 + dx;
      const std::int64_t yi = y0 + dy;
      if (xi < 0 || yi < 0 || xi >= width || yi >= height) continue;
      const double weight = (1.0 - std::abs(px - static_cast<double>(xi))) *
                            (1.0 - std::abs(py - static_cast<double>(yi)));
      for (std::int64_t c = 0; c < channels; ++c) {
        out[static_cast<std::size_t>(c)] += weight * v[c][yi][xi];
      }
    }
  }
  return out;
}

// value [B, S, heads, hd], locations [B, Q, heads, L, P, 2], weights [B, Q, heads, L, P].
torch::Tensor naive_core(const torch::Tensor& value, const std::vector<LevelShape>& shapes,
                         const torch::Tensor& locations, const torch::Tensor& weights) {
  const std::int64_t batch = value.size(0), heads = value.size(2), head_dim = value.size(3);
  const std::int64_t queries = locations.size(1), points = locations.size(4);
  torch::Tensor out = torch::zeros({batch, queries, heads * head_dim});
  auto o = out.accessor<float, 3>();
  const auto loc = locations.accessor<float, 6>();
  const auto w = weights.accessor<float, 5>();
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < heads; ++h) {
      std::int64_t start = 0;
      for (std::size_t l = 0; l < shapes.size(); ++l) {
        const std::int64_t hw = shapes[l].height * shapes[l].width;
        // [hd, H, W] map of this batch item, head and level.
        const torch::Tensor map = value[b]
                                      .narrow(0, start, hw)
                                      .select(1, h)
                                      .transpose(0, 1)
                                      .reshape({head_dim, shapes[l].height, shapes[l].width})
                                      .contiguous();
        for (std::int64_t q = 0; q < queries; ++q) {
          for (std::int64_t p = 0; p < points; ++p) {
            const auto li = static_cast<std::int64_t>(l);
            const std::vector<double> sample =
                bilinear(map, loc[b][q][h][li][p][0], loc[b][q][h][li][p][1]);
            for (std::int64_t c = 0; c < head_dim; ++c) {
              o[b][q][h * head_dim + c] += static_cast<float>(
                  w[b][q][h][li][p] * sample[static_cast<std::size_t>(c)]);
            }
          }
        }
        start += hw;
      }
    }
  }
  return out;
}

TEST(MsDeformAttnCore, MatchesNaiveBilinearSamplingOverTwoLevels) {
  torch::manual_seed(3);
  const std::vector<LevelShape> shapes = {{5, 7}, {3, 2}};
  const std::int64_t batch = 2, heads = 2, head_dim = 3, queries = 4, points = 3;
  const torch::Tensor value = torch::randn({batch, 5 * 7 + 3 * 2, heads, head_dim});
  // Some locations fall outside [0, 1]: those corners read zeros.
  const torch::Tensor locations = torch::rand({batch, queries, heads, 2, points, 2}) * 1.4 - 0.2;
  const torch::Tensor weights =
      torch::softmax(torch::randn({batch, queries, heads, 2 * points}), -1)
          .view({batch, queries, heads, 2, points});
  const torch::Tensor fast = ms_deform_attn_core(value, shapes, locations, weights);
  const torch::Tensor naive = naive_core(value, shapes, locations, weights);
  ASSERT_EQ(fast.sizes(), naive.sizes());
  EXPECT_TRUE(torch::allclose(fast, naive, 1e-5, 1e-5)) << (fast - naive).abs().max();
}

TEST(MsDeformAttnCore, SamplingAtAPixelCentreReadsThatPixel) {
  const std::vector<LevelShape> shapes = {{2, 4}};
  const torch::Tensor value = torch::arange(8, torch::kFloat).view({1, 8, 1, 1});
  // Centre of pixel (x = 2, y = 1): ((2 + 0.5) / 4, (1 + 0.5) / 2).
  const torch::Tensor locations = torch::tensor({0.625f, 0.75f}).view({1, 1, 1, 1, 1, 2});
  const torch::Tensor weights = torch::ones({1, 1, 1, 1, 1});
  EXPECT_FLOAT_EQ(ms_deform_attn_core(value, shapes, locations, weights).item<float>(), 6.0f);
}

TEST(MsDeformAttn, FourValueReferencesSampleAroundTheBoxAndIgnorePadding) {
  torch::manual_seed(4);
  const std::int64_t d = 8, heads = 2, levels = 2, points = 2, batch = 2, queries = 3;
  MsDeformAttn attention(d, levels, heads, points);
  testing::perturb(*attention, 0.5);
  const std::vector<LevelShape> shapes = {{4, 4}, {2, 3}};
  const torch::Tensor query = torch::randn({batch, queries, d});
  const torch::Tensor input = torch::randn({batch, 16 + 6, d});
  torch::Tensor padding = torch::zeros({batch, 22}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(12, 16)}, true);  // last row of level 0, image 1
  torch::Tensor reference = torch::rand({batch, queries, levels, 4});
  reference.narrow(-1, 2, 2).mul_(0.5);  // box sizes up to half the map

  const torch::Tensor out = attention->forward(query, reference, input, shapes, padding);

  // By hand: value projection with padding zeroed, offsets scaled by the box, softmax weights.
  auto params = attention->named_parameters();
  auto linear = [&](const std::string& name, const torch::Tensor& x) {
    return torch::matmul(x, params[name + ".weight"].t()) + params[name + ".bias"];
  };
  torch::NoGradGuard no_grad;
  const torch::Tensor value = linear("value_proj", input)
                                  .masked_fill(padding.unsqueeze(-1), 0)
                                  .view({batch, 22, heads, d / heads});
  const torch::Tensor offsets =
      linear("sampling_offsets", query).view({batch, queries, heads, levels, points, 2});
  const torch::Tensor logits =
      linear("attention_weights", query).view({batch, queries, heads, levels * points});
  const torch::Tensor weights =
      torch::softmax(logits, -1).view({batch, queries, heads, levels, points});
  const torch::Tensor ref = reference.view({batch, queries, 1, levels, 1, 4});
  const torch::Tensor locations =
      ref.narrow(-1, 0, 2) + offsets / points * ref.narrow(-1, 2, 2) * 0.5;
  const torch::Tensor expected =
      linear("output_proj", naive_core(value, shapes, locations, weights));
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5)) << (out - expected).abs().max();
}

TEST(MsDeformAttn, InitialOffsetsPointEachHeadInItsOwnDirection) {
  MsDeformAttn attention(16, 1, 4, 2);
  const auto params = attention->named_parameters();
  EXPECT_EQ(params["sampling_offsets.weight"].abs().sum().item<float>(), 0.0f);
  // Heads at 0, 90, 180, 270 degrees, normalised by the larger of |cos|, |sin|; point p at p + 1.
  const torch::Tensor bias = params["sampling_offsets.bias"].view({4, 1, 2, 2});
  const torch::Tensor expected = torch::tensor({1.f, 0.f, 2.f, 0.f,     //
                                                0.f, 1.f, 0.f, 2.f,     //
                                                -1.f, 0.f, -2.f, 0.f,   //
                                                0.f, -1.f, 0.f, -2.f})
                                     .view({4, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(bias, expected, 0, 1e-6)) << bias;
  EXPECT_EQ(params["attention_weights.weight"].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(params["attention_weights.bias"].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(params["value_proj.bias"].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(params["output_proj.bias"].abs().sum().item<float>(), 0.0f);
}

}  // namespace
}  // namespace rtseg::plugins::lwdetr
