// Polygon and box rasterisation, bit-identical to pycocotools' rleFrPoly / rleFrBbox.
//
// The algorithm (described in our own words):
//  1. Every vertex is moved to a grid 5x finer, rounded as C's (int)(5 * v + 0.5), which truncates
//     toward zero: -0.35 becomes -1, not -2. The polygon is closed (last vertex -> first).
//  2. Each edge is sampled at every step of its major axis (x when |dx| >= |dy|). An edge whose
//     major coordinate decreases is sampled from its other end, so the minor coordinate is always
//     interpolated from the endpoint with the smaller major coordinate and rounded as
//     (int)(minor0 + slope * t + 0.5); the samples are still listed in the edge's own direction.
//     Consecutive edges share a vertex, which is therefore listed twice.
//  3. Along that list of fine points, every place where the fine x changes is a possible crossing:
//     the fine column crossed is x' = x_now when moving left, else x_now - 1. It counts only when
//     it is the middle of a pixel column, (x' + 0.5) / 5 - 0.5 = an integer column c in [0, w-1].
//     Its row is ceil(clamp((min(y_now, y_before) + 0.5) / 5 - 0.5, 0, h)).
//  4. Each crossing (c, row) toggles the mask at pixel index c * h + row (column-major); with
//     h * w appended, sorted and differenced this gives the runs. A zero-length run (two crossings
//     at one index cancel) is folded by adding the following run to the one before it.
//
// Only a few of the fine points matter: moving right, a crossing of column c is accepted where x
// arrives at 5c + 3 (x' = 5c + 2); moving left, where it arrives at 5c + 2. Along one edge x is
// monotonic and moves at most 1 per step, so each such target is reached exactly once, at the
// first step whose x gets there. That step is computed (exactly on x-major edges, estimated and
// then corrected by evaluating the samples on y-major ones) instead of walking every sample, so
// the cost is about one evaluation per crossing, whatever the coordinates. The points compared and
// their values are exactly those of the full walk.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "masks_internal.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk::masks {
namespace {

constexpr double kScale = 5;
constexpr std::int64_t kFineStepsPerPixel = 5;  // kScale as an integer

struct FinePoint {
  std::int64_t x = 0;
  std::int64_t y = 0;
};

// (int)(5 * v + 0.5) as C computes it; values outside int would be undefined behaviour there.
std::int64_t to_fine(double value, std::size_t index) {
  const double scaled = kScale * value + .5;
  if (!std::isfinite(scaled) || scaled <= double{std::numeric_limits<int>::min()} - 1.0 ||
      scaled >= double{std::numeric_limits<int>::max()} + 1.0) {
    throw DataError("masks::from_polygon: coordinate " + std::to_string(index) + " (" +
                    std::to_string(value) + ") is not a finite number of usable size");
  }
  return static_cast<std::int64_t>(scaled);  // truncation toward zero, like C's (int)
}

// The fine points of one edge, indexed by step 0..steps from its first vertex to its second.
class EdgeSamples {
 public:
  EdgeSamples(FinePoint from, FinePoint to) {
    const std::int64_t dx = std::abs(to.x - from.x), dy = std::abs(to.y - from.y);
    x_major_ = dx >= dy;
    steps_ = x_major_ ? dx : dy;
    const std::int64_t major_from = x_major_ ? from.x : from.y, major_to = x_major_ ? to.x : to.y;
    const std::int64_t minor_from = x_major_ ? from.y : from.x, minor_to = x_major_ ? to.y : to.x;
    reversed_ = major_from > major_to;
    major_origin_ = reversed_ ? major_to : major_from;
    minor_origin_ = reversed_ ? minor_to : minor_from;
    const std::int64_t minor_end = reversed_ ? minor_from : minor_to;
    // pycocotools divides 0 by 0 for a repeated vertex; that sample's y is then never used
    // (its x equals its neighbours'), so 0 is as good.
    slope_ = steps_ > 0
                 ? static_cast<double>(minor_end - minor_origin_) / static_cast<double>(steps_)
                 : 0.0;
  }

  std::int64_t steps() const { return steps_; }
  bool x_major() const { return x_major_; }

  // The minor coordinate before C's (int) truncation. Same operations in the same order as
  // pycocotools; bit-identical as long as neither build fuses the multiply-add (no FMA at the
  // default x86-64 target; on FMA targets both compilers may contract it).
  double minor_unrounded(std::int64_t step) const {
    const std::int64_t t = reversed_ ? steps_ - step : step;
    return static_cast<double>(minor_origin_) + slope_ * static_cast<double>(t) + .5;
  }

  FinePoint at(std::int64_t step) const {
    const auto minor = static_cast<std::int64_t>(minor_unrounded(step));
    const std::int64_t major = major_origin_ + (reversed_ ? steps_ - step : step);
    return x_major_ ? FinePoint{major, minor} : FinePoint{minor, major};
  }
  std::int64_t x_at(std::int64_t step) const { return at(step).x; }

 private:
  bool x_major_ = true;
  bool reversed_ = false;
  std::int64_t steps_ = 0;
  std::int64_t major_origin_ = 0;
  std::int64_t minor_origin_ = 0;
  double slope_ = 0;
};

// Collects the column crossings (as column-major pixel indices) of a walk over fine points.
class CrossingCollector {
 public:
  CrossingCollector(std::int64_t height, std::int64_t width) : height_(height), width_(width) {}

  void step(const FinePoint& before, const FinePoint& now) {
    if (now.x == before.x) return;
    const std::int64_t crossed = now.x < before.x ? now.x : now.x - 1;
    const double column = (static_cast<double>(crossed) + .5) / kScale - .5;
    if (std::floor(column) != column || column < 0 || column > static_cast<double>(width_ - 1))
      return;
    double row = (static_cast<double>(std::min(now.y, before.y)) + .5) / kScale - .5;
    row = std::ceil(std::clamp(row, 0.0, static_cast<double>(height_)));
    indices_.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(column) * height_ +
                                                  static_cast<std::int64_t>(row)));
  }

  std::vector<std::uint32_t>& indices() { return indices_; }

 private:
  std::int64_t height_;
  std::int64_t width_;
  std::vector<std::uint32_t> indices_;
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// The first step (>= 1) at which x has reached `target`, a value x takes strictly after step 0 and
// at the latest at the last step. `rightward`: x increases along the edge.
std::int64_t first_step_reaching(const EdgeSamples& edge, std::int64_t target, bool rightward) {
  const std::int64_t steps = edge.steps();
  const auto reached = [&](std::int64_t step) {
    const std::int64_t x = edge.x_at(step);
    return rightward ? x >= target : x <= target;
  };
  std::int64_t step;
  if (edge.x_major()) {
    step = std::abs(target - edge.x_at(0));  // x moves by exactly 1 per step
  } else {
    // Linear estimate from the unrounded x at both ends; the loops below make it exact.
    const double x0 = edge.minor_unrounded(0), x1 = edge.minor_unrounded(steps);
    const double goal = rightward ? static_cast<double>(target) : static_cast<double>(target) + 1;
    const double estimate = std::ceil((goal - x0) / (x1 - x0) * static_cast<double>(steps));
    step = std::isfinite(estimate)
               ? static_cast<std::int64_t>(std::clamp(estimate, 1.0, static_cast<double>(steps)))
               : 1;
  }
  step = std::clamp<std::int64_t>(step, 1, steps);
  while (step < steps && !reached(step)) ++step;
  while (step > 1 && reached(step - 1)) --step;
  return step;
}

// Feeds the collector the pairs (step - 1, step), step >= 1, of one edge where x arrives at a
// fine column that can give an accepted crossing (see the file comment).
void walk_edge(const EdgeSamples& edge, CrossingCollector& collector, std::int64_t width) {
  const std::int64_t steps = edge.steps();
  if (steps == 0) return;
  const std::int64_t x_first = edge.x_at(0), x_last = edge.x_at(steps);
  if (x_first == x_last) return;
  const bool rightward = x_last > x_first;
  const std::int64_t offset = rightward ? 3 : 2;  // target x = 5c + offset for pixel column c
  // Columns whose target lies in (x_first, x_last] moving right, [x_last, x_first) moving left.
  const std::int64_t low = rightward ? x_first + 1 : x_last,
                     high = rightward ? x_last : x_first - 1;
  const std::int64_t column_first = std::max<std::int64_t>(
      0, floor_div(low - offset + kFineStepsPerPixel - 1, kFineStepsPerPixel));
  const std::int64_t column_last =
      std::min(width - 1, floor_div(high - offset, kFineStepsPerPixel));
  for (std::int64_t column = column_first; column <= column_last; ++column) {
    const std::int64_t step =
        first_step_reaching(edge, kFineStepsPerPixel * column + offset, rightward);
    collector.step(edge.at(step - 1), edge.at(step));
  }
}

}  // namespace

RunLengths from_polygon(const std::vector<double>& xy, std::int64_t height, std::int64_t width) {
  const std::uint64_t pixels = detail::pixel_count(height, width, "masks::from_polygon");
  if (xy.size() % 2 != 0) {
    throw DataError("masks::from_polygon: a polygon needs x, y pairs, got " +
                    std::to_string(xy.size()) + " numbers");
  }
  const std::size_t vertex_count = xy.size() / 2;
  std::vector<FinePoint> vertices(vertex_count);
  for (std::size_t i = 0; i < vertex_count; ++i) {
    vertices[i] = {to_fine(xy[2 * i], 2 * i), to_fine(xy[2 * i + 1], 2 * i + 1)};
  }

  CrossingCollector collector(height, width);
  // An image without columns has no crossing (pycocotools' unsigned w - 1 wraps there and it
  // accepts columns past the image, giving counts that do not add up).
  if (width > 0) {
    bool have_previous = false;
    FinePoint previous;
    for (std::size_t i = 0; i < vertex_count; ++i) {
      const EdgeSamples edge(vertices[i], vertices[(i + 1) % vertex_count]);
      // The shared vertex is listed at the end of one edge and the start of the next. The two
      // samples differ only left of the image (rounding toward zero at negative x), where no
      // crossing is accepted, but the pair is compared anyway to follow pycocotools step by step.
      if (have_previous) collector.step(previous, edge.at(0));
      walk_edge(edge, collector, width);
      previous = edge.at(edge.steps());
      have_previous = true;
    }
  }

  std::vector<std::uint32_t>& boundaries = collector.indices();
  boundaries.push_back(static_cast<std::uint32_t>(pixels));
  std::sort(boundaries.begin(), boundaries.end());
  RunLengths rle;
  rle.height = height;
  rle.width = width;
  rle.counts.reserve(boundaries.size());
  std::uint32_t before = 0;
  bool fold_next = false;  // the previous run was empty: add this one to the run before it
  for (std::size_t i = 0; i < boundaries.size(); ++i) {
    const std::uint32_t run = boundaries[i] - before;
    before = boundaries[i];
    if (fold_next) {
      rle.counts.back() += run;
      fold_next = false;
    } else if (run > 0 || i == 0) {
      rle.counts.push_back(run);
    } else {
      fold_next = true;
    }
  }
  return rle;
}

RunLengths from_polygons(const std::vector<std::vector<double>>& polygons, std::int64_t height,
                         std::int64_t width) {
  if (polygons.empty()) {
    return RunLengths{
        height,
        width,
        {static_cast<std::uint32_t>(detail::pixel_count(height, width, "masks::from_polygons"))}};
  }
  std::vector<RunLengths> parts;
  parts.reserve(polygons.size());
  for (const auto& polygon : polygons) parts.push_back(from_polygon(polygon, height, width));
  return merge(parts);
}

RunLengths from_box(const std::array<double, 4>& xywh, std::int64_t height, std::int64_t width) {
  const double x0 = xywh[0], x1 = x0 + xywh[2];
  const double y0 = xywh[1], y1 = y0 + xywh[3];
  return from_polygon({x0, y0, x0, y1, x1, y1, x1, y0}, height, width);
}

}  // namespace rtseg::sdk::masks
