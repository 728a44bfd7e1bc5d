// pycocotools' summary lines, a per-category table and metrics JSON.
#include "rtseg/framework/eval/coco_report.h"

#include <cmath>
#include <cstdio>

#include "coco_params.h"
#include "rtseg/sdk/atomic_file.h"

namespace rtseg::framework::eval {
namespace {

using namespace detail;

// One line of COCOeval.summarize():
// ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
std::string summary_line(bool precision, const char* iou, const char* area, int max_dets, double value) {
  char line[128];
  std::snprintf(line, sizeof(line), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f",
                precision ? "Average Precision" : "Average Recall", precision ? "(AP)" : "(AR)", iou, area,
                max_dets, value);
  return line;
}

nlohmann::json number_or_null(double value) {
  if (std::isnan(value) || value == -1) return nullptr;
  return value;
}

}  // namespace

void print_summary(std::ostream& out, const CocoMetrics& metrics) {
  const auto& s = metrics.stats;
  const char* all_ious = "0.50:0.95";
  out << summary_line(true, all_ious, "all", 100, s[kAp]) << "\n"
      << summary_line(true, "0.50", "all", 100, s[kAp50]) << "\n"
      << summary_line(true, "0.75", "all", 100, s[kAp75]) << "\n";
  for (int a = 1; a < kAreaRangeCount; ++a) {
    out << summary_line(true, all_ious, kAreaLabels[a], 100, s[kAp + 2 + a]) << "\n";
  }
  for (int m = 0; m < kMaxDetsCount; ++m) out << summary_line(false, all_ious, "all", kMaxDets[m], s[kAr1 + m]) << "\n";
  for (int a = 1; a < kAreaRangeCount; ++a) {
    out << summary_line(false, all_ious, kAreaLabels[a], 100, s[kAr1 + 2 + a]) << "\n";
  }
}

void print_category_table(std::ostream& out, const CocoMetrics& metrics) {
  std::size_t name_width = 8;
  for (const auto& row : metrics.categories) name_width = std::max(name_width, row.name.size());
  char line[512];
  std::snprintf(line, sizeof(line), "%8s  %-*s  %8s  %7s  %7s\n", "id", static_cast<int>(name_width), "category",
                "GT", "AP", "AP50");
  out << line;
  auto percent = [](double value) {
    char text[32];
    if (std::isnan(value)) return std::string("nan");
    std::snprintf(text, sizeof(text), "%.3f", 100 * value);
    return std::string(text);
  };
  for (const auto& row : metrics.categories) {
    std::snprintf(line, sizeof(line), "%8lld  %-*s  %8lld  %7s  %7s\n", static_cast<long long>(row.category_id),
                  static_cast<int>(name_width), row.name.c_str(), static_cast<long long>(row.gt_count),
                  percent(row.ap).c_str(), percent(row.ap50).c_str());
    out << line;
  }
}

nlohmann::json stats_to_json(const CocoMetrics& metrics) {
  nlohmann::json list = nlohmann::json::array();
  for (double value : metrics.stats) list.push_back(value);
  return list;
}

nlohmann::json metrics_to_json(const CocoMetrics& metrics) {
  nlohmann::json stats = nlohmann::json::object();
  for (int i = 0; i < kStatCount; ++i) stats[stat_names()[i]] = number_or_null(metrics.stats[i]);
  nlohmann::json per_category = nlohmann::json::array();
  for (const auto& row : metrics.categories) {
    per_category.push_back({{"id", row.category_id},
                            {"name", row.name},
                            {"gt_count", row.gt_count},
                            {"AP", number_or_null(row.ap)},
                            {"AP50", number_or_null(row.ap50)}});
  }
  return {{"iou_type", iou_type_name(metrics.iou_type)},
          {"images", metrics.images},
          {"detections", metrics.detections},
          {"stats", stats},
          {"per_category", per_category}};
}

void write_metrics_json(const std::filesystem::path& file, const CocoMetrics& metrics) {
  sdk::write_file_atomically(file, metrics_to_json(metrics).dump(2) + "\n");
}

}  // namespace rtseg::framework::eval
