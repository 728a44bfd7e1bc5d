// COCOeval.evaluate + accumulate + summarize over the whole ground truth.
#include "rtseg/framework/eval/coco_evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "accumulation.h"
#include "image_evaluation.h"
#include "parallel_for.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::eval {
namespace {

using namespace detail;

// Sorted unique ids (np.unique of pycocotools' imgIds / catIds) and their positions.
struct IdIndex {
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, std::size_t> position;

  template <class Items>
  explicit IdIndex(const Items& items) {
    for (const auto& item : items) ids.push_back(item.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (std::size_t i = 0; i < ids.size(); ++i) position.emplace(ids[i], i);
  }
  std::ptrdiff_t find(std::int64_t id) const {
    const auto found = position.find(id);
    return found == position.end() ? -1 : static_cast<std::ptrdiff_t>(found->second);
  }
};

struct Unit {
  std::size_t category = 0;
  UnitInput input;
};

// The (image, category) pairs with any GT or detection, ordered by category, then image id;
// objects keep their source order inside a pair.
std::vector<Unit> group_units(const GroundTruth& truth, const EvalResults& results, const IdIndex& images,
                              const IdIndex& categories, std::int64_t& detection_count) {
  std::vector<const GtImage*> image_of(images.ids.size(), nullptr);
  for (const GtImage& image : truth.images) {
    const auto i = static_cast<std::size_t>(images.find(image.id));
    if (!image_of[i]) image_of[i] = &image;
  }
  const std::size_t image_count = images.ids.size();
  std::unordered_map<std::size_t, std::size_t> unit_of_key;
  std::vector<std::pair<std::size_t, Unit>> keyed;
  auto unit_for = [&](std::size_t category, std::size_t image) -> UnitInput& {
    const std::size_t key = category * image_count + image;
    const auto [it, added] = unit_of_key.emplace(key, keyed.size());
    if (added) {
      keyed.emplace_back(key, Unit{category, UnitInput{}});
      keyed.back().second.input.image = image_of[image];
    }
    return keyed[it->second].second.input;
  };
  for (const GtAnnotation& annotation : truth.annotations) {
    const auto image = images.find(annotation.image_id);
    const auto category = categories.find(annotation.category_id);
    if (image < 0 || category < 0) continue;  // not evaluated, as in pycocotools
    unit_for(category, image).ground_truths.push_back(&annotation);
  }
  detection_count = 0;
  for (const EvalDetection& detection : results.detections) {
    const auto image = images.find(detection.image_id);
    if (image < 0) {
      throw sdk::DataError("a detection is on image " + std::to_string(detection.image_id) + ", which is not in " +
                           truth.source);
    }
    const auto category = categories.find(detection.category_id);
    if (category < 0) continue;
    unit_for(category, image).detections.push_back(&detection);
    ++detection_count;
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Unit> units;
  units.reserve(keyed.size());
  for (auto& entry : keyed) units.push_back(std::move(entry.second));
  return units;
}

// Mean of the entries > -1 (pycocotools' summarize), -1 when there are none.
struct Mean {
  double sum = 0;
  std::int64_t count = 0;
  void add(double value) {
    if (value > -1) {
      sum += value;
      ++count;
    }
  }
  double value(double none = -1) const { return count ? sum / static_cast<double>(count) : none; }
};

double mean_precision(const std::vector<CategoryAccumulation>& per_category, int t_begin, int t_end, int a, int m) {
  Mean mean;
  for (int t = t_begin; t < t_end; ++t) {
    for (int r = 0; r < kRecallThresholdCount; ++r) {
      for (const auto& category : per_category) {
        mean.add(category.precision[CategoryAccumulation::precision_index(t, r, a, m)]);
      }
    }
  }
  return mean.value();
}

double mean_recall(const std::vector<CategoryAccumulation>& per_category, int a, int m) {
  Mean mean;
  for (int t = 0; t < kIouThresholdCount; ++t) {
    for (const auto& category : per_category) mean.add(category.recall[CategoryAccumulation::recall_index(t, a, m)]);
  }
  return mean.value();
}

}  // namespace

const std::array<const char*, kStatCount>& stat_names() {
  static const std::array<const char*, kStatCount> names = {"AP",  "AP50", "AP75", "APs",  "APm",  "APl",
                                                            "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return names;
}

CocoMetrics evaluate_coco(const GroundTruth& truth, const EvalResults& results, const EvalOptions& options) {
  const IdIndex images(truth.images);
  const IdIndex categories(truth.categories);
  CocoMetrics metrics;
  metrics.iou_type = options.iou_type;
  metrics.images = static_cast<std::int64_t>(images.ids.size());
  const std::vector<Unit> units = group_units(truth, results, images, categories, metrics.detections);

  std::vector<UnitEvaluation> evaluations(units.size());
  parallel_for(units.size(), options.threads, [&](std::size_t i) {
    evaluations[i] = evaluate_unit(units[i].input, options.iou_type, options.pycocotools_id0_quirk);
  });

  std::vector<std::vector<const UnitEvaluation*>> units_of_category(categories.ids.size());
  for (std::size_t i = 0; i < units.size(); ++i) units_of_category[units[i].category].push_back(&evaluations[i]);
  std::vector<CategoryAccumulation> accumulated(categories.ids.size());
  parallel_for(accumulated.size(), options.threads,
               [&](std::size_t k) { accumulated[k] = accumulate_category(units_of_category[k]); });

  constexpr int kAll = 0;
  constexpr int kLast = kMaxDetsCount - 1;
  auto& s = metrics.stats;
  s[kAp] = mean_precision(accumulated, 0, kIouThresholdCount, kAll, kLast);
  s[kAp50] = mean_precision(accumulated, kIou50, kIou50 + 1, kAll, kLast);
  s[kAp75] = mean_precision(accumulated, kIou75, kIou75 + 1, kAll, kLast);
  for (int a = 1; a < kAreaRangeCount; ++a) {
    s[kAp + 2 + a] = mean_precision(accumulated, 0, kIouThresholdCount, a, kLast);
    s[kAr1 + 2 + a] = mean_recall(accumulated, a, kLast);
  }
  for (int m = 0; m < kMaxDetsCount; ++m) s[kAr1 + m] = mean_recall(accumulated, kAll, m);

  std::unordered_map<std::int64_t, const GtCategory*> category_of;
  for (const GtCategory& category : truth.categories) category_of.emplace(category.id, &category);
  for (std::size_t k = 0; k < categories.ids.size(); ++k) {
    CategoryMetrics row;
    row.category_id = categories.ids[k];
    row.name = category_of.at(row.category_id)->name;
    for (const UnitEvaluation* unit : units_of_category[k]) row.gt_count += unit->non_ignored_gt[kAll];
    Mean ap, ap50;
    for (int t = 0; t < kIouThresholdCount; ++t) {
      for (int r = 0; r < kRecallThresholdCount; ++r) {
        const double p = accumulated[k].precision[CategoryAccumulation::precision_index(t, r, kAll, kLast)];
        ap.add(p);
        if (t == kIou50) ap50.add(p);
      }
    }
    row.ap = ap.value(std::numeric_limits<double>::quiet_NaN());
    row.ap50 = ap50.value(std::numeric_limits<double>::quiet_NaN());
    metrics.categories.push_back(std::move(row));
  }
  return metrics;
}

}  // namespace rtseg::framework::eval
