#include "segmentation_rle.h"

#include <string>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::eval::detail {
namespace {

sdk::RunLengths to_rle(const sdk::Segmentation& segmentation, const GtImage& image) {
  if (segmentation.polygons.empty()) return segmentation.rle;
  if (image.height <= 0 || image.width <= 0) {
    throw sdk::DataError("image " + std::to_string(image.id) +
                         " has no width and height, needed to rasterise polygons");
  }
  const auto& polygons = segmentation.polygons;
  if (polygons.front().size() == 4) {
    // frPyObjects reads a list whose first element has 4 numbers as boxes [x, y, w, h].
    std::vector<sdk::RunLengths> boxes;
    for (const auto& box : polygons) {
      if (box.size() != 4) throw sdk::DataError("a list of boxes (first polygon has 4 numbers) with a polygon of " +
                                                std::to_string(box.size()) + " numbers");
      boxes.push_back(sdk::masks::from_box({box[0], box[1], box[2], box[3]}, image.height, image.width));
    }
    return sdk::masks::merge(boxes);
  }
  if (polygons.front().size() < 4) {
    throw sdk::DataError("a polygon of " + std::to_string(polygons.front().size()) +
                         " numbers (pycocotools cannot read it either)");
  }
  return sdk::masks::from_polygons(polygons, image.height, image.width);
}

}  // namespace

sdk::RunLengths ground_truth_rle(const GtAnnotation& annotation, const GtImage& image) {
  if (annotation.segmentation.empty()) {
    throw sdk::DataError("GT annotation " + std::to_string(annotation.id) + " (image " +
                         std::to_string(annotation.image_id) + ") has no segmentation; segm evaluation needs one");
  }
  try {
    return to_rle(annotation.segmentation, image);
  } catch (const sdk::DataError& error) {
    throw sdk::DataError("GT annotation " + std::to_string(annotation.id) + ": " + error.what());
  }
}

sdk::RunLengths detection_rle(const EvalDetection& detection, const GtImage& image) {
  if (detection.segmentation.empty()) {
    return sdk::masks::from_box(detection.box_xywh, image.height, image.width);
  }
  try {
    return to_rle(detection.segmentation, image);
  } catch (const sdk::DataError& error) {
    throw sdk::DataError("detection on image " + std::to_string(detection.image_id) + ": " + error.what());
  }
}

}  // namespace rtseg::framework::eval::detail
