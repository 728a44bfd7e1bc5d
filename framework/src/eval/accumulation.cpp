#include "accumulation.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace rtseg::framework::eval::detail {
namespace {

// numpy.spacing(1): keeps precision defined when no detection counts yet.
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

struct Entry {
  double score;
  const UnitEvaluation* unit;
  std::size_t detection;
};

}  // namespace

CategoryAccumulation accumulate_category(const std::vector<const UnitEvaluation*>& units) {
  CategoryAccumulation out;
  out.precision.assign(static_cast<std::size_t>(kIouThresholdCount) * kRecallThresholdCount * kAreaRangeCount *
                           kMaxDetsCount, -1.0);
  out.recall.assign(static_cast<std::size_t>(kIouThresholdCount) * kAreaRangeCount * kMaxDetsCount, -1.0);
  if (units.empty()) return out;

  std::array<std::int64_t, kAreaRangeCount> non_ignored{};
  for (const UnitEvaluation* unit : units) {
    for (int a = 0; a < kAreaRangeCount; ++a) non_ignored[a] += unit->non_ignored_gt[a];
  }

  std::vector<Entry> entries;
  std::vector<std::uint8_t> states;
  std::vector<double> recall_curve, precision_curve;
  for (int m = 0; m < kMaxDetsCount; ++m) {
    // Each image's first maxDets detections, concatenated in image order, then a stable sort by
    // score (numpy mergesort of -score): the same order for every area range and threshold.
    entries.clear();
    for (const UnitEvaluation* unit : units) {
      const std::size_t keep = std::min(unit->scores.size(), static_cast<std::size_t>(kMaxDets[m]));
      for (std::size_t d = 0; d < keep; ++d) entries.push_back(Entry{unit->scores[d], unit, d});
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& x, const Entry& y) { return x.score > y.score; });
    const std::size_t count = entries.size();
    // The states in sorted order, [area][threshold][entry], so the curves below read memory in order.
    states.resize(count * kAreaRangeCount * kIouThresholdCount);
    for (std::size_t i = 0; i < count; ++i) {
      for (int a = 0; a < kAreaRangeCount; ++a) {
        for (int t = 0; t < kIouThresholdCount; ++t) {
          states[(static_cast<std::size_t>(a) * kIouThresholdCount + t) * count + i] =
              entries[i].unit->state(a, t, entries[i].detection);
        }
      }
    }
    for (int a = 0; a < kAreaRangeCount; ++a) {
      if (non_ignored[a] == 0) continue;
      const double gt_count = static_cast<double>(non_ignored[a]);
      for (int t = 0; t < kIouThresholdCount; ++t) {
        recall_curve.resize(count);
        precision_curve.resize(count);
        double tp = 0, fp = 0;
        const std::uint8_t* state_of = &states[(static_cast<std::size_t>(a) * kIouThresholdCount + t) * count];
        for (std::size_t i = 0; i < count; ++i) {
          const std::uint8_t state = state_of[i];
          if (state == kTruePositive) tp += 1;
          if (state == kFalsePositive) fp += 1;
          recall_curve[i] = tp / gt_count;
          precision_curve[i] = tp / (fp + tp + kEpsilon);
        }
        out.recall[CategoryAccumulation::recall_index(t, a, m)] = count ? recall_curve.back() : 0.0;
        // Precision envelope: the best precision at this recall or beyond.
        for (std::size_t i = count; i-- > 1;) {
          if (precision_curve[i] > precision_curve[i - 1]) precision_curve[i - 1] = precision_curve[i];
        }
        // searchsorted(recall, r, side='left'); recall points past the last reached stay 0.
        std::size_t i = 0;
        for (int r = 0; r < kRecallThresholdCount; ++r) {
          const double threshold = recall_threshold(r);
          while (i < count && recall_curve[i] < threshold) ++i;
          out.precision[CategoryAccumulation::precision_index(t, r, a, m)] = i < count ? precision_curve[i] : 0.0;
        }
      }
    }
  }
  return out;
}

}  // namespace rtseg::framework::eval::detail
