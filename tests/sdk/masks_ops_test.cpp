// merge / area / bbox / iou / box_iou on run lengths, checked against dense slow references.

#include <ATen/ops/from_blob.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A dense mask kept as column-major 0/1 bytes, the order the run lengths use.
struct Dense {
  std::int64_t h = 0, w = 0;
  std::vector<std::uint8_t> pixels;  // pixels[x * h + y]

  RunLengths encode() const {
    std::vector<std::uint8_t> row_major(pixels.size());
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t y = 0; y < h; ++y) row_major[y * w + x] = pixels[x * h + y];
    return masks::encode(at::from_blob(row_major.data(), {h, w}, at::kByte).clone());
  }
  std::uint64_t area() const { return std::count(pixels.begin(), pixels.end(), 1); }
};

Dense dense_of(const RunLengths& rle) {
  Dense dense{rle.height, rle.width, {}};
  std::uint8_t value = 0;
  for (const auto count : rle.counts) {
    dense.pixels.insert(dense.pixels.end(), count, value);
    value ^= 1;
  }
  return dense;
}

// Random mask, sometimes blobby (long runs), sometimes sparse, sometimes empty.
Dense random_dense(std::mt19937& random, std::int64_t h, std::int64_t w) {
  Dense dense{h, w, std::vector<std::uint8_t>(h * w, 0)};
  const int kind = random() % 4;
  if (kind == 0) return dense;  // empty
  if (kind == 1) {              // a few random rectangles
    for (int i = 0, n = 1 + random() % 3; i < n; ++i) {
      const std::int64_t x0 = random() % w, y0 = random() % h;
      const std::int64_t x1 = x0 + 1 + random() % (w - x0), y1 = y0 + 1 + random() % (h - y0);
      for (std::int64_t x = x0; x < x1; ++x)
        for (std::int64_t y = y0; y < y1; ++y) dense.pixels[x * h + y] = 1;
    }
    return dense;
  }
  std::bernoulli_distribution on(kind == 2 ? 0.1 : 0.6);
  for (auto& pixel : dense.pixels) pixel = on(random);
  return dense;
}

// Slow tight box of the foreground, (x, y, w, h).
std::array<double, 4> dense_bbox(const Dense& dense) {
  std::int64_t x0 = dense.w, y0 = dense.h, x1 = -1, y1 = -1;
  for (std::int64_t x = 0; x < dense.w; ++x)
    for (std::int64_t y = 0; y < dense.h; ++y)
      if (dense.pixels[x * dense.h + y]) {
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  if (x1 < 0) return {0, 0, 0, 0};
  return {double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)};
}

TEST(MasksMerge, MatchesDenseUnionAndIntersection) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t h = 1 + random() % 23, w = 1 + random() % 23;
    std::vector<Dense> dense;
    std::vector<RunLengths> rles;
    for (int i = 0, n = 2 + random() % 3; i < n; ++i) {
      dense.push_back(random_dense(random, h, w));
      rles.push_back(dense.back().encode());
    }
    Dense united = dense[0], common = dense[0];
    for (std::size_t i = 1; i < dense.size(); ++i) {
      for (std::size_t p = 0; p < united.pixels.size(); ++p) {
        united.pixels[p] |= dense[i].pixels[p];
        common.pixels[p] &= dense[i].pixels[p];
      }
    }
    // The walk emits a run only when the value changes, so it equals a fresh encode.
    ASSERT_EQ(masks::merge(rles), united.encode());
    ASSERT_EQ(masks::merge(rles, /*intersect=*/true), common.encode());
  }
}

TEST(MasksMerge, HandlesZeroLengthRunsInItsInput) {
  // Valid but non-canonical inputs (empty runs inside): the result still has the right pixels.
  const RunLengths a{1, 6, {2, 0, 1, 2, 1}}, b{1, 6, {0, 1, 0, 0, 5}};
  EXPECT_EQ(dense_of(masks::merge({a, b})).pixels, (std::vector<std::uint8_t>{1, 0, 0, 1, 1, 0}));
  EXPECT_EQ(dense_of(masks::merge({a, b}, true)).pixels, (std::vector<std::uint8_t>(6, 0)));
}

TEST(MasksMerge, EdgeCases) {
  const RunLengths one{2, 2, {1, 2, 1}};
  EXPECT_EQ(masks::merge({one}), one);
  EXPECT_EQ(masks::merge({}), RunLengths{});  // pycocotools: an empty 0 x 0 RLE
  try {
    masks::merge({one, RunLengths{2, 3, {6}}});
    ADD_FAILURE() << "merged masks of different sizes";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("mask 1 is 2 x 3"), HasSubstr("mask 0 is 2 x 2")));
  }
  EXPECT_THROW(masks::merge({one, RunLengths{2, 2, {1, 2}}}), DataError);  // would loop forever
}

TEST(MasksArea, SumsOddRuns) {
  EXPECT_EQ(masks::area(RunLengths{3, 3, {1, 2, 3, 3}}), 5u);
  EXPECT_EQ(masks::area(RunLengths{3, 3, {9}}), 0u);
  EXPECT_EQ(masks::area(RunLengths{}), 0u);
  std::mt19937 random(8);
  for (int trial = 0; trial < 200; ++trial) {
    const Dense dense = random_dense(random, 1 + random() % 30, 1 + random() % 30);
    ASSERT_EQ(masks::area(dense.encode()), dense.area());
  }
}

TEST(MasksBbox, HandComputedCases) {
  // 4 x 3 (h x w). One pixel at x=1, y=2: index 1*4+2 = 6.
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {6, 1, 5}}), ElementsAre(1, 2, 1, 1));
  // A run from (x=0, y=3) to (x=1, y=0) crosses a column: the box takes the full height.
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {3, 2, 7}}), ElementsAre(0, 0, 2, 4));
  // Two runs in one column and one in the next: rows 1..3, columns 0..1.
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {1, 1, 1, 1, 2, 1, 5}}), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {12}}), ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {5, 0, 7}}), ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(masks::bbox(RunLengths{4, 3, {0, 12}}), ElementsAre(0, 0, 3, 4));
  EXPECT_THAT(masks::bbox(RunLengths{0, 3, {0}}), ElementsAre(0, 0, 0, 0));
}

TEST(MasksBbox, MatchesDenseTightBox) {
  std::mt19937 random(9);
  for (int trial = 0; trial < 300; ++trial) {
    const Dense dense = random_dense(random, 1 + random() % 30, 1 + random() % 30);
    ASSERT_EQ(masks::bbox(dense.encode()), dense_bbox(dense));
  }
}

TEST(MasksIou, MatchesDenseReferenceWithCrowds) {
  std::mt19937 random(10);
  for (int trial = 0; trial < 60; ++trial) {
    const std::int64_t h = 1 + random() % 20, w = 1 + random() % 20;
    std::vector<Dense> dts, gts;
    std::vector<RunLengths> dt_rles, gt_rles;
    std::vector<bool> crowd;
    for (int i = 0, n = random() % 4; i < n; ++i) dts.push_back(random_dense(random, h, w));
    for (int i = 0, n = random() % 4; i < n; ++i) gts.push_back(random_dense(random, h, w));
    if (trial % 3 == 0 && !dts.empty() && !gts.empty()) gts[0] = dts[0];  // an exact match
    for (const auto& d : dts) dt_rles.push_back(d.encode());
    for (const auto& g : gts) {
      gt_rles.push_back(g.encode());
      crowd.push_back(random() % 3 == 0);
    }
    const std::vector<double> ious = masks::iou(dt_rles, gt_rles, crowd);
    ASSERT_EQ(ious.size(), dts.size() * gts.size());
    for (std::size_t d = 0; d < dts.size(); ++d) {
      for (std::size_t g = 0; g < gts.size(); ++g) {
        std::uint64_t inter = 0, uni = 0;
        for (std::size_t p = 0; p < dts[d].pixels.size(); ++p) {
          inter += dts[d].pixels[p] & gts[g].pixels[p];
          uni += dts[d].pixels[p] | gts[g].pixels[p];
        }
        if (crowd[g]) uni = dts[d].area();
        const double expected = inter == 0 ? 0.0 : double(inter) / double(uni);
        ASSERT_EQ(ious[d * gts.size() + g], expected) << "d=" << d << " g=" << g;
      }
    }
  }
}

TEST(MasksIou, SizesCrowdFlagsAndEmptyInputs) {
  const RunLengths a{2, 2, {0, 4}};     // full 2 x 2
  const RunLengths b{2, 2, {0, 2, 2}};  // left column
  const RunLengths wide{2, 3, {0, 6}};  // full 2 x 3: boxes overlap a's
  const RunLengths far{4, 4, {12, 4}};  // last column of 4 x 4: box x=3, no overlap with a
  // Identical -> 1, half -> 0.5, crowd -> intersection / detection area (2/4 vs 4/4 below).
  EXPECT_THAT(masks::iou({a}, {a, b}, {}), ElementsAre(1.0, 0.5));
  EXPECT_THAT(masks::iou({a, b}, {b}, {true}), ElementsAre(0.5, 1.0));
  // pycocotools marks a different size with -1, but only once the boxes overlap.
  EXPECT_THAT(masks::iou({a}, {wide, far}, {false, false}), ElementsAre(-1.0, 0.0));
  EXPECT_TRUE(masks::iou({}, {a}, {false}).empty());
  EXPECT_TRUE(masks::iou({a}, {}, {}).empty());
  try {
    masks::iou({a}, {a, b}, {true});
    ADD_FAILURE() << "accepted 1 crowd flag for 2 ground truths";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("1 is_crowd flags for 2 ground truths"));
  }
  EXPECT_THROW(masks::iou({RunLengths{2, 2, {1}}}, {a}, {}), DataError);
}

TEST(MasksBoxIou, HandComputedValues) {
  // (0,0,10,10) vs (5,5,10,10): overlap 5 x 5 = 25, union 100 + 100 - 25 = 175.
  // Crowd: union = the detection's area, 100. Touching boxes (shared edge) overlap 0.
  const std::vector<std::array<double, 4>> dts = {{0, 0, 10, 10}, {10, 0, 5, 5}};
  const std::vector<std::array<double, 4>> gts = {{5, 5, 10, 10}, {0, 0, 10, 10}, {2, 2, 2, 2}};
  const std::vector<double> plain = masks::box_iou(dts, gts, {});
  EXPECT_THAT(plain, ElementsAre(25.0 / 175.0, 1.0, 4.0 / 100.0,  // detection 0 vs each truth
                                 0.0, 0.0, 0.0));                 // detection 1 only touches
  const std::vector<double> crowd = masks::box_iou(dts, gts, {true, false, true});
  EXPECT_THAT(crowd, ElementsAre(25.0 / 100.0, 1.0, 4.0 / 100.0, 0.0, 0.0, 0.0));
  // (10,0,5,6) vs (5,5,10,10): overlap 5 x 1, union 30 + 100 - 5.
  EXPECT_THAT(masks::box_iou({{10, 0, 5, 6}}, {{5, 5, 10, 10}}, {}),
              ElementsAre(5.0 * 1.0 / (30.0 + 100.0 - 5.0)));
  EXPECT_THROW(masks::box_iou(dts, gts, {true}), DataError);
}

}  // namespace
}  // namespace rtseg::sdk
