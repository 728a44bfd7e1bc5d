// Operations on run lengths without decoding them: merge, area, bbox and IoU (pycocotools'
// rleMerge, rleArea, rleToBbox, rleIou and bbIou).

#include <algorithm>
#include <cmath>
#include <string>

#include "masks_internal.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk::masks {
namespace {

// Walks one run list: the pixels left in the current run and whether that run is foreground.
// A run is entered only when the previous one is used up, one run per step, so empty runs inside
// a list take a step of their own, exactly as pycocotools walks them (this decides where merge
// puts empty runs for such inputs).
class RunCursor {
 public:
  explicit RunCursor(const std::vector<std::uint32_t>& counts) : counts_(counts) {
    left_ = counts_.empty() ? 0 : counts_[0];
  }
  std::uint64_t left() const { return left_; }
  bool foreground() const { return foreground_; }
  void consume(std::uint64_t pixels) {
    left_ -= pixels;
    if (left_ == 0 && next_ < counts_.size()) {
      left_ = counts_[next_++];
      foreground_ = !foreground_;
    }
  }

 private:
  const std::vector<std::uint32_t>& counts_;
  std::uint64_t left_ = 0;
  std::size_t next_ = 1;
  bool foreground_ = false;
};

std::vector<std::uint32_t> merge_two(const std::vector<std::uint32_t>& a,
                                     const std::vector<std::uint32_t>& b, bool intersect) {
  std::vector<std::uint32_t> merged;
  merged.reserve(a.size() + b.size());
  RunCursor run_a(a), run_b(b);
  bool value = false;
  std::uint64_t run = 0;
  bool more = true;
  while (more) {
    const std::uint64_t step = std::min(run_a.left(), run_b.left());
    run += step;
    run_a.consume(step);
    run_b.consume(step);
    more = run_a.left() + run_b.left() > 0;
    const bool previous = value;
    value = intersect ? (run_a.foreground() && run_b.foreground())
                      : (run_a.foreground() || run_b.foreground());
    if (value != previous || !more) {
      merged.push_back(static_cast<std::uint32_t>(run));
      run = 0;
    }
  }
  return merged;
}

struct Overlap {
  std::uint64_t intersection = 0;
  std::uint64_t union_ = 0;
};

Overlap overlap_of(const RunLengths& a, const RunLengths& b) {
  Overlap overlap;
  RunCursor run_a(a.counts), run_b(b.counts);
  bool more = true;
  while (more) {
    const std::uint64_t step = std::min(run_a.left(), run_b.left());
    if (run_a.foreground() || run_b.foreground()) {
      overlap.union_ += step;
      if (run_a.foreground() && run_b.foreground()) overlap.intersection += step;
    }
    run_a.consume(step);
    run_b.consume(step);
    more = run_a.left() + run_b.left() > 0;
  }
  return overlap;
}

void check_crowd_flags(const std::vector<bool>& is_crowd, std::size_t ground_truths,
                       const char* what) {
  if (!is_crowd.empty() && is_crowd.size() != ground_truths) {
    throw DataError(std::string(what) + ": " + std::to_string(is_crowd.size()) +
                    " is_crowd flags for " + std::to_string(ground_truths) +
                    " ground truths (give one per ground truth, or none for no crowds)");
  }
}

}  // namespace

RunLengths merge(const std::vector<RunLengths>& rles, bool intersect) {
  if (rles.empty()) return RunLengths{};
  const RunLengths& first = rles.front();
  for (std::size_t i = 0; i < rles.size(); ++i) {
    const RunLengths& rle = rles[i];
    if (rle.height != first.height || rle.width != first.width) {
      throw DataError("masks::merge: mask " + std::to_string(i) + " is " +
                      std::to_string(rle.height) + " x " + std::to_string(rle.width) +
                      " but mask 0 is " + std::to_string(first.height) + " x " +
                      std::to_string(first.width) + "; only masks of one size can be merged");
    }
    detail::check_runs(rle, "masks::merge");
  }
  RunLengths merged = first;
  for (std::size_t i = 1; i < rles.size(); ++i) {
    merged.counts = merge_two(merged.counts, rles[i].counts, intersect);
  }
  return merged;
}

std::uint64_t area(const RunLengths& rle) {
  std::uint64_t total = 0;
  for (std::size_t i = 1; i < rle.counts.size(); i += 2) total += rle.counts[i];
  return total;
}

std::array<double, 4> bbox(const RunLengths& rle) {
  // The corrected rleToBbox of the pycocotools release: a run spanning more than one column
  // covers every row in between, so the box then takes the full height.
  if (rle.height <= 0 || rle.width <= 0) return {0, 0, 0, 0};
  const auto height = static_cast<std::uint64_t>(rle.height);
  std::uint64_t x_min = static_cast<std::uint64_t>(rle.width), x_max = 0;
  std::uint64_t y_min = height, y_max = 0;
  bool any = false;
  std::uint64_t start = 0;
  for (std::size_t i = 0; i < rle.counts.size(); ++i) {
    const std::uint64_t end = start + rle.counts[i];  // one past the run's last pixel
    if (i % 2 == 1 && rle.counts[i] > 0) {
      any = true;
      const std::uint64_t x_first = start / height, x_last = (end - 1) / height;
      x_min = std::min(x_min, x_first);
      x_max = std::max(x_max, x_last);
      if (x_first < x_last) {
        y_min = 0;
        y_max = height - 1;
      } else {
        y_min = std::min(y_min, start % height);
        y_max = std::max(y_max, (end - 1) % height);
      }
    }
    start = end;
  }
  // pycocotools also gives zeros for an empty mask, except for lists holding only empty
  // foreground runs (never produced by its own encoders), where its unsigned maths wraps.
  if (!any) return {0, 0, 0, 0};
  return {static_cast<double>(x_min), static_cast<double>(y_min),
          static_cast<double>(x_max - x_min + 1), static_cast<double>(y_max - y_min + 1)};
}

std::vector<double> iou(const std::vector<RunLengths>& detections,
                        const std::vector<RunLengths>& ground_truths,
                        const std::vector<bool>& is_crowd) {
  check_crowd_flags(is_crowd, ground_truths.size(), "masks::iou");
  std::vector<std::array<double, 4>> detection_boxes, truth_boxes;
  detection_boxes.reserve(detections.size());
  truth_boxes.reserve(ground_truths.size());
  for (const RunLengths& rle : detections) {
    detail::check_runs(rle, "masks::iou (detection)");
    detection_boxes.push_back(bbox(rle));
  }
  for (const RunLengths& rle : ground_truths) {
    detail::check_runs(rle, "masks::iou (ground truth)");
    truth_boxes.push_back(bbox(rle));
  }
  // Pairs whose boxes do not overlap are 0 without walking the runs.
  std::vector<double> result = box_iou(detection_boxes, truth_boxes, is_crowd);
  const std::size_t truth_count = ground_truths.size();
  for (std::size_t d = 0; d < detections.size(); ++d) {
    for (std::size_t g = 0; g < truth_count; ++g) {
      double& value = result[d * truth_count + g];
      if (!(value > 0)) continue;
      const RunLengths& detection = detections[d];
      const RunLengths& truth = ground_truths[g];
      if (detection.height != truth.height || detection.width != truth.width) {
        value = -1;  // pycocotools' mark for masks of different sizes whose boxes overlap
        continue;
      }
      const Overlap overlap = overlap_of(detection, truth);
      std::uint64_t union_pixels = overlap.union_;
      if (overlap.intersection == 0) {
        union_pixels = 1;
      } else if (!is_crowd.empty() && is_crowd[g]) {
        union_pixels = area(detection);  // a crowd region may cover many objects
      }
      value = static_cast<double>(overlap.intersection) / static_cast<double>(union_pixels);
    }
  }
  return result;
}

std::vector<double> box_iou(const std::vector<std::array<double, 4>>& detections,
                            const std::vector<std::array<double, 4>>& ground_truths,
                            const std::vector<bool>& is_crowd) {
  check_crowd_flags(is_crowd, ground_truths.size(), "masks::box_iou");
  const std::size_t truth_count = ground_truths.size();
  std::vector<double> result(detections.size() * truth_count, 0.0);
  for (std::size_t g = 0; g < truth_count; ++g) {
    const std::array<double, 4>& truth = ground_truths[g];
    const double truth_area = truth[2] * truth[3];
    const bool crowd = !is_crowd.empty() && is_crowd[g];
    for (std::size_t d = 0; d < detections.size(); ++d) {
      const std::array<double, 4>& box = detections[d];
      const double box_area = box[2] * box[3];
      // Same operations in the same order as bbIou, so the doubles match to the last bit.
      const double overlap_w =
          std::fmin(box[2] + box[0], truth[2] + truth[0]) - std::fmax(box[0], truth[0]);
      if (overlap_w <= 0) continue;
      const double overlap_h =
          std::fmin(box[3] + box[1], truth[3] + truth[1]) - std::fmax(box[1], truth[1]);
      if (overlap_h <= 0) continue;
      const double intersection = overlap_w * overlap_h;
      const double union_area = crowd ? box_area : box_area + truth_area - intersection;
      result[d * truth_count + g] = intersection / union_area;
    }
  }
  return result;
}

}  // namespace rtseg::sdk::masks
