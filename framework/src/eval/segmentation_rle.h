#pragma once

// pycocotools' annToRLE: an annotation's segmentation as an RLE for mask IoU.

#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/eval/results.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework::eval::detail {

/// Polygons are rasterised at the image's size (frPyObjects' quirk included: a list whose first
/// polygon has exactly 4 numbers is a list of boxes); an RLE is used as it is (its own size).
/// DataError naming the GT annotation when it has no segmentation.
sdk::RunLengths ground_truth_rle(const GtAnnotation& annotation, const GtImage& image);
/// The same for a detection; without a segmentation its box as a polygon (loadRes' fill-in).
sdk::RunLengths detection_rle(const EvalDetection& detection, const GtImage& image);

}  // namespace rtseg::framework::eval::detail
