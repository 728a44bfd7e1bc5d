// Polygon and box rasterisation (pycocotools' rleFrPoly / rleFrBbox).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Slow reference: the algorithm written out literally, listing every fine point of every edge
// and testing every consecutive pair, with the floating-point tests as pycocotools writes them.
// (The library walks only the pairs that can matter.)
std::vector<std::uint32_t> literal_from_polygon(const std::vector<double>& xy, std::int64_t h,
                                                std::int64_t w) {
  const std::size_t k = xy.size() / 2;
  std::vector<long long> vx(k + 1), vy(k + 1);
  for (std::size_t j = 0; j < k; ++j) {
    vx[j] = static_cast<long long>(5 * xy[2 * j] + .5);  // C's (int): truncation toward zero
    vy[j] = static_cast<long long>(5 * xy[2 * j + 1] + .5);
  }
  if (k > 0) vx[k] = vx[0], vy[k] = vy[0];
  std::vector<long long> u, v;
  for (std::size_t j = 0; j < k; ++j) {
    long long xs = vx[j], xe = vx[j + 1], ys = vy[j], ye = vy[j + 1];
    const long long dx = std::llabs(xe - xs), dy = std::llabs(ye - ys);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) std::swap(xs, xe), std::swap(ys, ye);
    // A repeated vertex (dx = dy = 0) makes pycocotools divide 0 by 0; its y is never used.
    const double s =
        dx >= dy ? (dx ? double(ye - ys) / double(dx) : 0.0) : double(xe - xs) / double(dy);
    if (dx >= dy) {
      for (long long d = 0; d <= dx; ++d) {
        const long long t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<long long>(double(ys) + s * double(t) + .5));
      }
    } else {
      for (long long d = 0; d <= dy; ++d) {
        const long long t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<long long>(double(xs) + s * double(t) + .5));
      }
    }
  }
  std::vector<std::uint32_t> a;
  for (std::size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = double(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / 5 - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > double(w - 1)) continue;
    double yd = double(std::min(v[j], v[j - 1]));
    yd = (yd + .5) / 5 - .5;
    yd = std::ceil(yd < 0 ? 0 : (yd > double(h) ? double(h) : yd));
    a.push_back(
        static_cast<std::uint32_t>(static_cast<long long>(xd) * h + static_cast<long long>(yd)));
  }
  a.push_back(static_cast<std::uint32_t>(h * w));
  std::sort(a.begin(), a.end());
  std::vector<std::uint32_t> runs;
  std::uint32_t previous = 0;
  for (auto& index : a) index -= std::exchange(previous, index);
  std::size_t j = 0;
  runs.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      runs.push_back(a[j++]);
    } else if (++j < a.size()) {
      runs.back() += a[j++];
    }
  }
  return runs;
}

// Counts of the mask whose pixel (x, y) is `inside(x, y)`, read column by column.
template <typename Inside>
std::vector<std::uint32_t> counts_of(std::int64_t h, std::int64_t w, Inside inside) {
  std::vector<std::uint32_t> counts;
  bool value = false;
  std::uint32_t run = 0;
  for (std::int64_t x = 0; x < w; ++x) {
    for (std::int64_t y = 0; y < h; ++y) {
      if (inside(x, y) != value) {
        counts.push_back(run);
        run = 0;
        value = !value;
      }
      ++run;
    }
  }
  counts.push_back(run);
  return counts;
}

TEST(MasksPolygon, HandTracedTriangle) {
  // (0,0) (2,0) (0,2) on 3 x 3. Fine vertices (x5): (0,0) (10,0) (0,10).
  //  edge 1 walks right along y=0: x' = 2 and 7 are column middles -> (col 0, row 0), (col 1,
  //    row 0) as ceil((0 + .5) / 5 - .5) clamps to 0.
  //  edge 2, (10,0)->(0,10), is walked from (0,10) with slope -1, giving (10-d, d); moving left,
  //    x' = 7 at (7,3) after (8,2): row ceil((2 + .5)/5 - .5) = 0 -> (col 1, row 0) again;
  //    x' = 2 at (2,8) after (3,7): row ceil((7 + .5)/5 - .5) = 1 -> (col 0, row 1).
  //  edge 3 is vertical: no x change.
  // Indices (x*3 + y): 0, 3, 3, 1 and 9 -> sorted 0 1 3 3 9 -> runs 0 1 2 0 6 -> fold -> 0 1 8.
  // So only pixel (0,0): the centres (1.5,0.5) and (0.5,1.5) lie on the hypotenuse and are out.
  EXPECT_EQ(masks::from_polygon({0, 0, 2, 0, 0, 2}, 3, 3), (RunLengths{3, 3, {0, 1, 8}}));
  EXPECT_THAT(literal_from_polygon({0, 0, 2, 0, 0, 2}, 3, 3), ElementsAre(0, 1, 8));
}

TEST(MasksPolygon, RoundsNegativeCoordinatesTowardZero) {
  // (0.73,1.03) (0.43,-0.17) (-0.07,-0.27) on 4 x 4. Fine: (int)(5v + .5) gives (4,5) (2,0)
  // (0,0): -0.85 + .5 = -0.35 and -1.35 + .5 = -0.85 truncate to 0 (floor would give -1).
  //  edge (4,5)->(2,0): y-major, walked from (2,0) with slope 0.4: (4,5) (4,4) (3,3) (3,2)
  //    (2,1) (2,0); moving left to (2,1): x' = 2 -> col 0, row ceil(min(1,2)+.5)/5-.5 -> 0.
  //  edge (2,0)->(0,0): x' = 1, 0 only.
  //  edge (0,0)->(4,5): slope 0.8: (0,0) (1,1) (2,2) (2,3) (3,4) (4,5); moving right to (3,4):
  //    x' = 2 -> col 0, row ceil((3 + .5)/5 - .5) = 1.
  // Indices 0, 1 and 16 -> runs 0 1 15: pixel (0,0). With floor rounding the mask is empty.
  const std::vector<double> polygon = {0.73, 1.03, 0.43, -0.17, -0.07, -0.27};
  EXPECT_EQ(masks::from_polygon(polygon, 4, 4), (RunLengths{4, 4, {0, 1, 15}}));
  EXPECT_THAT(literal_from_polygon(polygon, 4, 4), ElementsAre(0, 1, 15));
}

TEST(MasksPolygon, IntegerRectanglesCoverExactlyTheirPixels) {
  // Traced on paper: for corners on integers, the vertical edges never change x, the bottom edge
  // (walked right) crosses column c's middle at fine x 5c+2 with row ceil(y1 - 0.4) = y1, the top
  // edge (walked left) at row y0, for every c in [x0, x1): so rows [y0, y1) of columns [x0, x1),
  // clipped to the image. Checked here for rectangles inside, across and outside the border.
  std::mt19937 random(21);
  for (int trial = 0; trial < 3000; ++trial) {
    const std::int64_t h = 1 + random() % 9, w = 1 + random() % 9;
    const int x0 = int(random() % 18) - 5, y0 = int(random() % 18) - 5;
    const int x1 = x0 + 1 + int(random() % 10), y1 = y0 + 1 + int(random() % 10);
    const auto expected = counts_of(h, w, [&](std::int64_t x, std::int64_t y) {
      return x >= x0 && x < x1 && y >= y0 && y < y1;
    });
    const RunLengths box =
        masks::from_box({double(x0), double(y0), double(x1 - x0), double(y1 - y0)}, h, w);
    ASSERT_EQ(box.counts, expected)
        << x0 << "," << y0 << " " << x1 << "," << y1 << " in " << h << "x" << w;
    // The corners in the other winding than pycocotools' rleFrBbox uses.
    const std::vector<double> reversed = {double(x0), double(y0), double(x1), double(y0),
                                          double(x1), double(y1), double(x0), double(y1)};
    ASSERT_EQ(masks::from_polygon(reversed, h, w).counts, expected);
  }
}

TEST(MasksPolygon, ConcaveAndSelfTouchingRectilinearShapes) {
  // L: the 4 x 4 square at the origin minus its lower-right 2 x 2 quarter.
  const std::vector<double> l_shape = {0, 0, 4, 0, 4, 2, 2, 2, 2, 4, 0, 4};
  EXPECT_EQ(masks::from_polygon(l_shape, 6, 6).counts,
            counts_of(6, 6, [](auto x, auto y) { return x < 4 && y < 4 && !(x >= 2 && y >= 2); }));
  // U: columns 0 and 3 full height, joined by rows 3..4 (an inward notch from the top).
  const std::vector<double> u_shape = {0, 0, 1, 0, 1, 3, 3, 3, 3, 0, 4, 0, 4, 5, 0, 5};
  EXPECT_EQ(masks::from_polygon(u_shape, 5, 5).counts, counts_of(5, 5, [](auto x, auto y) {
              return x == 0 || x == 3 || (y >= 3 && y < 5 && x < 4);
            }));
  // Two squares touching at the corner (2,2), traced as one closed outline.
  const std::vector<double> figure_eight = {0, 0, 2, 0, 2, 2, 4, 2, 4, 4, 2, 4, 2, 2, 0, 2};
  EXPECT_EQ(masks::from_polygon(figure_eight, 5, 5).counts, counts_of(5, 5, [](auto x, auto y) {
              return (x < 2 && y < 2) || (x >= 2 && x < 4 && y >= 2 && y < 4);
            }));
}

TEST(MasksPolygon, MatchesTheLiteralAlgorithmOnRandomPolygons) {
  std::mt19937 random(4242);
  std::uniform_real_distribution<double> unit(0, 1);
  int non_empty = 0;
  for (int trial = 0; trial < 6000; ++trial) {
    const std::int64_t h = 1 + random() % 24, w = 1 + random() % 24;
    const int points = int(random() % 13);
    const int style = trial % 5;
    std::vector<double> xy;
    for (int i = 0; i < 2 * points; ++i) {
      const double extent = double(i % 2 ? h : w);
      const double value = -6 + unit(random) * (extent + 12);  // partly outside the image
      // Arbitrary doubles, integers, .5 ties of 5v + .5, COCO-like decimals, far outside.
      const double choices[] = {value, std::round(value), std::round(value * 2) / 2,
                                std::round(value * 10) / 10, (unit(random) - 0.5) * 400};
      xy.push_back(choices[style]);
    }
    const RunLengths rle = masks::from_polygon(xy, h, w);
    ASSERT_EQ(rle.counts, literal_from_polygon(xy, h, w)) << "trial " << trial;
    ASSERT_NO_THROW(masks::decode(rle));  // runs add up to h * w
    non_empty += masks::area(rle) > 0;
  }
  EXPECT_GT(non_empty, 1000);  // the comparison is not only between empty masks
}

TEST(MasksPolygon, LongEdgesFarOutsideMatchTheLiteralAlgorithm) {
  // Edges of ~10^5 fine steps where only a few dozen cross the image.
  const std::vector<std::vector<double>> polygons = {{-9000, 3.3, 9000, 7.9, 4.2, 9000},
                                                     {2.5, -7000, 3.7, 7000, -20000, 1.1},
                                                     {-5000, -5000, 5000, 1.5, 2.2, 5000},
                                                     {0.5, 0.5, 17.2, 0.7, 17.4, 0.9, 0.6, 1.1}};
  for (const auto& xy : polygons) {
    EXPECT_EQ(masks::from_polygon(xy, 20, 18).counts, literal_from_polygon(xy, 20, 18));
  }
}

TEST(MasksPolygon, HugeCoordinatesStayCheapAndClipToTheImage) {
  // ~10^9 fine steps per edge: only the steps inside the image are visited.
  EXPECT_EQ(masks::from_box({-1e8, -1e8, 2e8, 2e8}, 30, 40), (RunLengths{30, 40, {0, 1200}}));
  EXPECT_EQ(masks::from_box({-1e8, 10, 1e8 + 5, 3}, 30, 40).counts,
            counts_of(30, 40, [](auto x, auto y) { return x < 5 && y >= 10 && y < 13; }));
  // The hypotenuse passes the image's columns at y ~ 4e8: its crossings clamp to row h.
  EXPECT_EQ(masks::from_polygon({0, 0, 4e8, 0, 0, 4e8}, 64, 64), (RunLengths{64, 64, {0, 4096}}));
}

TEST(MasksPolygon, DegenerateInputs) {
  EXPECT_EQ(masks::from_polygon({}, 3, 4), (RunLengths{3, 4, {12}}));
  EXPECT_EQ(masks::from_polygon({1.5, 1.5}, 3, 4), (RunLengths{3, 4, {12}}));
  // A 2-point "polygon" walks the same samples there and back: every crossing cancels.
  std::mt19937 random(5);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<double> xy(4);
    for (auto& v : xy) v = -3 + std::uniform_real_distribution<double>(0, 14)(random);
    ASSERT_EQ(masks::area(masks::from_polygon(xy, 8, 8)), 0u);
  }
  // Repeated vertices (zero-length edges) change nothing.
  EXPECT_EQ(masks::from_polygon({0.3, 0.2, 3.7, 0.9, 3.7, 0.9, 1.2, 4.4, 1.2, 4.4, 0.3, 0.2}, 6, 6),
            masks::from_polygon({0.3, 0.2, 3.7, 0.9, 1.2, 4.4}, 6, 6));
  // Zero-size images and boxes.
  EXPECT_EQ(masks::from_box({1, 1, 0, 2}, 4, 4), (RunLengths{4, 4, {16}}));
  EXPECT_EQ(masks::from_box({1, 1, 2, 0}, 4, 4), (RunLengths{4, 4, {16}}));
  EXPECT_EQ(masks::from_box({1, 2, 1, 1}, 4, 4), (RunLengths{4, 4, {6, 1, 9}}));
  EXPECT_EQ(masks::from_polygon({0, 0, 3, 0, 3, 3}, 0, 5), (RunLengths{0, 5, {0}}));
  EXPECT_EQ(masks::from_polygon({0, 0, 3, 0, 3, 3}, 5, 0), (RunLengths{5, 0, {0}}));
}

TEST(MasksPolygon, FractionalBoxesMatchTheirCornerPolygon) {
  // (x, y, w, h) -> corners x0,y0  x0,y1  x1,y1  x1,y0 in pycocotools' order.
  std::mt19937 random(77);
  for (int trial = 0; trial < 500; ++trial) {
    std::array<double, 4> box;
    for (auto& v : box) v = std::uniform_real_distribution<double>(-2, 12)(random);
    box[2] = std::abs(box[2]), box[3] = std::abs(box[3]);
    const double x1 = box[0] + box[2], y1 = box[1] + box[3];
    ASSERT_EQ(masks::from_box(box, 9, 11).counts,
              literal_from_polygon({box[0], box[1], box[0], y1, x1, y1, x1, box[1]}, 9, 11));
  }
}

TEST(MasksPolygon, RejectsUnusableInput) {
  const auto message_of = [](auto&& call) {
    try {
      call();
    } catch (const DataError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message_of([] {
                masks::from_polygon({1, 2, 3, 4, 5}, 9, 9);
              }),
              HasSubstr("x, y pairs, got 5 numbers"));
  EXPECT_THAT(message_of([] {
                masks::from_polygon({1, 2, NAN, 4, 5, 6}, 9, 9);
              }),
              HasSubstr("coordinate 2"));
  EXPECT_THAT(message_of([] {
                masks::from_polygon({1, 2, 3, INFINITY, 5, 6}, 9, 9);
              }),
              HasSubstr("coordinate 3"));
  EXPECT_THAT(message_of([] {
                masks::from_polygon({1, 2, 3, 4, 5e9, 6}, 9, 9);
              }),
              HasSubstr("coordinate 4"));
  EXPECT_THAT(message_of([] {
                masks::from_polygon({1, 2, 3, 4, 5, 6}, -9, 9);
              }),
              HasSubstr("-9 x 9"));
}

TEST(MasksPolygons, UniteTheirParts) {
  const std::vector<double> a = {0, 0, 3, 0, 3, 3, 0, 3}, b = {2.4, 1.2, 6.1, 2.2, 3.3, 5.7};
  EXPECT_EQ(masks::from_polygons({a, b}, 7, 8),
            masks::merge({masks::from_polygon(a, 7, 8), masks::from_polygon(b, 7, 8)}));
  EXPECT_EQ(masks::from_polygons({a}, 7, 8), masks::from_polygon(a, 7, 8));
  EXPECT_EQ(masks::from_polygons({}, 7, 8), (RunLengths{7, 8, {56}}));
}

}  // namespace
}  // namespace rtseg::sdk
