#include "annotation_checks.h"

#include <cmath>
#include <sstream>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::plugins::coco {
namespace {

constexpr double kFarOutside = 1e8;

std::string format_box(const std::array<double, 4>& box) {
  std::ostringstream text;
  text << "[" << box[0] << ", " << box[1] << ", " << box[2] << ", " << box[3] << "]";
  return text.str();
}

// Empty when the polygon is usable, else why not.
std::string polygon_defect(const std::vector<double>& xy) {
  if (xy.size() % 2 != 0)
    return "has an odd number of coordinates (" + std::to_string(xy.size()) + ")";
  if (xy.size() == 4) return "has 4 numbers (2 points; pycocotools would read it as a box)";
  if (xy.size() < 6) return "has " + std::to_string(xy.size() / 2) + " points (needs 3)";
  // Rasterising works on a 5x finer integer grid; such values cannot be pixel coordinates anyway.
  for (double value : xy) {
    if (!(std::fabs(value) < kFarOutside)) {
      return "has a coordinate (" + std::to_string(value) + ") far outside any image";
    }
  }
  return {};
}

// Drops bad polygons (Detectron2's rule); false when the annotation had some and none is left.
bool keep_valid_polygons(std::vector<std::vector<double>>& polygons, std::string& reason) {
  std::vector<std::vector<double>> kept;
  std::string defects;
  for (std::size_t i = 0; i < polygons.size(); ++i) {
    const std::string defect = polygon_defect(polygons[i]);
    if (defect.empty()) {
      kept.push_back(std::move(polygons[i]));
    } else {
      defects += (defects.empty() ? "polygon " : ", polygon ") + std::to_string(i) + " " + defect;
    }
  }
  const bool had_polygons = !polygons.empty();
  polygons = std::move(kept);
  if (defects.empty()) return true;
  if (had_polygons && polygons.empty()) {
    reason = defects + "; no valid polygon left, skipped";
    return false;
  }
  reason = defects + "; dropped, the other polygons are kept";
  return true;
}

bool decode_rle(const RawRle& raw, const sdk::ImageRecord& image, sdk::RunLengths& out,
                std::string& reason) {
  if (raw.height != image.height || raw.width != image.width) {
    reason = "RLE size " + std::to_string(raw.height) + " x " + std::to_string(raw.width) +
             " (height x width) differs from the image's " + std::to_string(image.height) + " x " +
             std::to_string(image.width) + "; skipped";
    return false;
  }
  if (raw.counts_out_of_range) {
    reason = "RLE counts must be integers from 0 to 2^32 - 1; skipped";
    return false;
  }
  try {
    out = raw.compressed ? sdk::masks::from_string(raw.text, raw.height, raw.width)
                         : sdk::masks::from_counts(raw.counts, raw.height, raw.width);
  } catch (const sdk::Error& error) {
    reason = std::string("invalid RLE (") + error.what() + "); skipped";
    return false;
  }
  return true;
}

double mask_area(const RawAnnotation& raw, const sdk::ImageRecord& image) {
  const sdk::Segmentation& segmentation = raw.annotation.segmentation;
  if (!segmentation.rle.counts.empty())
    return static_cast<double>(sdk::masks::area(segmentation.rle));
  if (!segmentation.polygons.empty()) {
    return static_cast<double>(sdk::masks::area(
        sdk::masks::from_polygons(segmentation.polygons, image.height, image.width)));
  }
  return raw.annotation.box_xywh[2] * raw.annotation.box_xywh[3];
}

}  // namespace

bool check_annotation(RawAnnotation& raw, const sdk::ImageRecord& image, std::string& reason) {
  const std::array<double, 4>& box = raw.annotation.box_xywh;
  bool finite = true;
  for (double value : box) finite = finite && std::isfinite(value);
  if (!finite || box[2] <= 0 || box[3] <= 0) {
    reason = "bbox " + format_box(box) + " has no positive width and height; skipped";
    return false;
  }
  if (raw.flat_polygon) {
    reason = "\"segmentation\" is a flat list of numbers, not a list of polygons; skipped";
    return false;
  }
  if (raw.rle && !decode_rle(*raw.rle, image, raw.annotation.segmentation.rle, reason))
    return false;
  if (!keep_valid_polygons(raw.annotation.segmentation.polygons, reason)) return false;

  double area = 0;
  try {
    area = raw.area ? *raw.area : mask_area(raw, image);
  } catch (const sdk::Error& error) {
    reason = std::string("cannot compute the missing area (") + error.what() + "); skipped";
    return false;
  }
  if (!std::isfinite(area) || area <= 0) {
    reason = (raw.area ? "area " : "computed area ") + std::to_string(area) +
             " is not positive; skipped";
    return false;
  }
  raw.annotation.area = area;
  return true;
}

}  // namespace rtseg::plugins::coco
