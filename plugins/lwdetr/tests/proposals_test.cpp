// Level flattening, valid ratios, two-stage proposals and the sine embedding, against values
// worked out by hand.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "levels.h"
#include "proposals.h"
#include "sine_embedding.h"

namespace rtseg::plugins::lwdetr {
namespace {

using torch::indexing::Slice;

// Image 1 of a [2, 4, 8] canvas uses the top 3 rows and left 6 columns.
torch::Tensor padded_mask() {
  torch::Tensor mask = torch::zeros({2, 4, 8}, torch::kBool);
  mask.index_put_({1, Slice(3, torch::indexing::None), Slice()}, true);
  mask.index_put_({1, Slice(), Slice(6, torch::indexing::None)}, true);
  return mask;
}

TEST(ValidRatio, IsTheUnpaddedFractionOfWidthAndHeight) {
  const torch::Tensor ratios = valid_ratio(padded_mask());
  EXPECT_TRUE(torch::equal(ratios, torch::tensor({1.0f, 1.0f, 0.75f, 0.75f}).view({2, 2})))
      << ratios;
}

TEST(FlattenLevels, ConcatenatesLevelsRowMajorWithTheirStarts) {
  const torch::Tensor a = torch::arange(2 * 3 * 2 * 2, torch::kFloat).view({2, 3, 2, 2});
  const torch::Tensor b = torch::arange(2 * 3 * 1 * 3, torch::kFloat).view({2, 3, 1, 3});
  const FlatLevels flat = flatten_levels(
      {a, b}, {torch::zeros({2, 2, 2}, torch::kBool), torch::ones({2, 1, 3}, torch::kBool)});
  ASSERT_EQ(flat.memory.sizes(), (std::vector<std::int64_t>{2, 7, 3}));
  EXPECT_EQ(flat.starts, (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(flat.shapes[1].height, 1);
  EXPECT_EQ(flat.shapes[1].width, 3);
  // Cell (y = 1, x = 0) of level 0 is index 2; channel c of it is a[:, c, 1, 0].
  EXPECT_TRUE(torch::equal(flat.memory.select(1, 2), a.select(3, 0).select(2, 1)));
  EXPECT_TRUE(torch::equal(flat.memory.select(1, 5), b.select(3, 1).select(2, 0)));
  EXPECT_EQ(flat.padding.sum().item<std::int64_t>(), 2 * 3);
  ASSERT_EQ(flat.valid_ratios.sizes(), (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(flat.valid_ratios[0][1][0].item<float>(), 0.0f);  // level 1 is all padding
}

TEST(EncoderProposals, CentresAreRelativeToTheValidAreaAndPaddingGivesNoProposal) {
  const torch::Tensor mask = padded_mask();
  const torch::Tensor memory = torch::ones({2, 32, 5});
  const std::vector<LevelShape> shapes = {{4, 8}};
  const EncoderProposals p =
      encoder_output_proposals(memory, mask.flatten(1), shapes, /*unsigmoid=*/false);
  ASSERT_EQ(p.boxes.sizes(), (std::vector<std::int64_t>{2, 32, 4}));
  auto box = [&](int b, int y, int x) { return p.boxes[b][y * 8 + x]; };
  // Image 0: whole canvas valid, cell (y=2, x=5) -> (5.5 / 8, 2.5 / 4), size 0.05.
  EXPECT_TRUE(torch::allclose(box(0, 2, 5), torch::tensor({5.5f / 8, 2.5f / 4, 0.05f, 0.05f})));
  // Image 1: valid 6 x 3 -> (5.5 / 6, 2.5 / 3).
  EXPECT_TRUE(torch::allclose(box(1, 2, 5), torch::tensor({5.5f / 6, 2.5f / 3, 0.05f, 0.05f})));
  // Padded cells have no proposal (0) and no memory; every proposal lies inside the valid area.
  const torch::Tensor padded = mask.flatten(1);
  EXPECT_EQ(p.boxes.masked_select(padded.unsqueeze(-1)).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(p.memory.masked_select(padded.unsqueeze(-1)).abs().sum().item<float>(), 0.0f);
  const torch::Tensor centres = p.boxes.narrow(-1, 0, 2);
  EXPECT_LT(centres.max().item<float>(), 1.0f);
  EXPECT_EQ((p.boxes[1].sum(-1) > 0).sum().item<std::int64_t>(), 3 * 6);
  EXPECT_EQ(p.memory.sum().item<float>(), (32 + 18) * 5.0f);
}

TEST(EncoderProposals, BoxesOutsideTheMarginAreInvalidAndUnsigmoidedOtherwise) {
  // A 1 x 64 map: cx = (x + 0.5) / 64, so x = 0 (0.0078) and x = 63 (0.992) are outside
  // (0.01, 0.99). Level 1 (w = h = 0.1) on a 1 x 2 map is all valid.
  const torch::Tensor memory = torch::ones({1, 64 + 2, 3});
  const torch::Tensor padding = torch::zeros({1, 66}, torch::kBool);
  const std::vector<LevelShape> shapes = {{1, 64}, {1, 2}};
  const EncoderProposals logits = encoder_output_proposals(memory, padding, shapes, true);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(torch::all(logits.boxes[0][0] == inf).item<bool>());
  EXPECT_TRUE(torch::all(logits.boxes[0][63] == inf).item<bool>());
  EXPECT_EQ(logits.memory[0][0].sum().item<float>(), 0.0f);
  const auto logit = [](double p) { return static_cast<float>(std::log(p / (1 - p))); };
  EXPECT_NEAR(logits.boxes[0][1][0].item<float>(), logit(1.5 / 64), 1e-5);
  EXPECT_NEAR(logits.boxes[0][65][0].item<float>(), logit(0.75), 1e-5);
  EXPECT_NEAR(logits.boxes[0][65][2].item<float>(), logit(0.1), 1e-5);
  const EncoderProposals plain = encoder_output_proposals(memory, padding, shapes, false);
  EXPECT_EQ(plain.boxes[0][63].abs().sum().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(plain.boxes[0][64][3].item<float>(), 0.1f);
}

TEST(SineEmbedding, InterleavesSinAndCosInTheOrderYXWH) {
  const torch::Tensor positions = torch::tensor({0.25f, 0.5f, 0.125f, 0.75f}).view({1, 1, 4});
  const std::int64_t feats = 8;
  const torch::Tensor embedding = sine_position_embedding(positions, feats);
  ASSERT_EQ(embedding.sizes(), (std::vector<std::int64_t>{1, 1, 32}));
  const float coordinate[4] = {0.5f, 0.25f, 0.125f, 0.75f};  // y, x, w, h
  for (int block = 0; block < 4; ++block) {
    for (int i = 0; i < feats; ++i) {
      const double dim_t = std::pow(10000.0, 2.0 * (i / 2) / feats);
      const double angle = coordinate[block] * 2 * M_PI / dim_t;
      const double expected = i % 2 == 0 ? std::sin(angle) : std::cos(angle);
      EXPECT_NEAR(embedding[0][0][block * feats + i].item<float>(), expected, 1e-6)
          << "block " << block << " feature " << i;
    }
  }
  EXPECT_EQ(sine_position_embedding(positions.narrow(-1, 0, 2), feats).size(-1), 16);
}

}  // namespace
}  // namespace rtseg::plugins::lwdetr
