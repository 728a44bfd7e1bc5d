#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtseg/framework/detections.h"
#include "rtseg/framework/eval/coco_evaluator.h"
#include "rtseg/sdk/components/dataset.h"

/// Presenting COCO metrics: pycocotools' summary lines, a per-category table, metrics JSON, and
/// writing detections as a COCO results file.
namespace rtseg::framework::eval {

/// The twelve lines COCOeval.summarize() prints, character for character, e.g.
/// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.512".
void print_summary(std::ostream& out, const CocoMetrics& metrics);

/// One row per category: id, name, GT count, AP and AP50 (x100, 3 decimals, "nan" without GT),
/// in Detectron2's style.
void print_category_table(std::ostream& out, const CocoMetrics& metrics);

/// The twelve stats as a JSON list (what `rtseg cocoeval --json` prints).
nlohmann::json stats_to_json(const CocoMetrics& metrics);
/// {"iou_type", "images", "detections", "stats": {"AP": .., ...}, "per_category": [{"id",
/// "name", "gt_count", "AP", "AP50"}]}; NaN and -1 become null.
nlohmann::json metrics_to_json(const CocoMetrics& metrics);
/// metrics_to_json, written atomically.
void write_metrics_json(const std::filesystem::path& file, const CocoMetrics& metrics);

/// COCO results JSON (a list of {image_id, category_id, bbox, score[, segmentation: {size: [h, w],
/// counts: compressed string}]}), labels mapped through `categories` (label order), written
/// atomically. sdk::DataError for a label out of range.
void write_coco_results(const std::filesystem::path& file, const std::vector<Detection>& detections,
                        const std::vector<sdk::Category>& categories);
/// The same text, for callers that stream it elsewhere.
std::string coco_results_json(const std::vector<Detection>& detections,
                              const std::vector<sdk::Category>& categories);

}  // namespace rtseg::framework::eval
