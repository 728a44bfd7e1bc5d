#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/export.h"

/// Instance masks as COCO stores them, bit-identical to pycocotools (common/maskApi.c): run-length
/// encoding, its compressed string form, polygon and box rasterisation, area, bounding box,
/// union/intersection and IoU. Shared by the dataset plugins, the transforms and the evaluator.
///
/// Like pycocotools, a mask holds at most 2^32 - 1 pixels (32-bit counts); larger or negative
/// sizes throw DataError. Where pycocotools has undefined behaviour (runs that do not add up to
/// height * width, NaN or huge coordinates) these functions throw DataError instead.
namespace rtseg::sdk {

/// Run-length encoding in COCO order: the mask read column by column (column-major), as
/// alternating runs starting with a run of zeros (which may be empty).
struct RunLengths {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<std::uint32_t> counts;

  bool operator==(const RunLengths& other) const {
    return height == other.height && width == other.width && counts == other.counts;
  }
};

namespace masks {

/// Encodes a [H, W] mask (non-zero = foreground; bool and uint8 are read directly, other dtypes
/// are compared with 0 first, tensors off the CPU are copied to it). DataError unless 2-D.
RTSEG_SDK_API RunLengths encode(const at::Tensor& mask);
/// Decodes to a [H, W] uint8 tensor of 0/1 on the CPU. DataError if the runs do not add up to
/// height * width.
RTSEG_SDK_API at::Tensor decode(const RunLengths& rle);

/// pycocotools' compressed string (rleToString / rleFrString): ASCII '0'..'o', as in COCO JSON.
RTSEG_SDK_API std::string to_string(const RunLengths& rle);
/// Throws DataError, naming the position and the problem, when the string is malformed (a
/// character outside '0'..'o', a value cut off at the end or longer than 7 characters, a count
/// that decodes below 0 or above 2^32 - 1) or its runs do not add up to height * width.
RTSEG_SDK_API RunLengths from_string(std::string_view counts, std::int64_t height, std::int64_t width);
/// Checks that uncompressed counts add up to height * width (DataError otherwise).
RTSEG_SDK_API RunLengths from_counts(std::vector<std::uint32_t> counts, std::int64_t height,
                                     std::int64_t width);

/// One polygon (x0, y0, x1, y1, ...) rasterised exactly as pycocotools' rleFrPoly (x5 upsampled
/// edge walk). A rectangle with integer corners (x0, y0)-(x1, y1) gives exactly the pixels
/// [x0, x1) x [y0, y1), clipped to the image. Fewer than 3 points give what
/// pycocotools gives (an empty mask). DataError for an odd number of values, or a coordinate that
/// is not finite or whose 5x does not fit a 32-bit int. pycocotools' frPyObjects treats a list
/// whose first polygon has exactly 4 numbers as boxes; that quirk is the caller's to apply.
RTSEG_SDK_API RunLengths from_polygon(const std::vector<double>& xy, std::int64_t height,
                                      std::int64_t width);
/// Several polygons of one object: each rasterised, then merged (union), as annToRLE does.
/// No polygon gives an empty mask.
RTSEG_SDK_API RunLengths from_polygons(const std::vector<std::vector<double>>& polygons,
                                       std::int64_t height, std::int64_t width);
/// A box (x, y, w, h) rasterised as its 4-corner polygon (rleFrBbox).
RTSEG_SDK_API RunLengths from_box(const std::array<double, 4>& xywh, std::int64_t height,
                                  std::int64_t width);

/// Union (or intersection) of masks of one size (rleMerge), walking the runs without decoding.
/// An empty list gives an empty 0 x 0 RLE (as pycocotools); masks of different sizes, or runs that
/// do not add up to height * width, throw DataError (pycocotools returns a 0 x 0 RLE or loops).
RTSEG_SDK_API RunLengths merge(const std::vector<RunLengths>& rles, bool intersect = false);

/// Foreground pixel count (rleArea).
RTSEG_SDK_API std::uint64_t area(const RunLengths& rle);
/// Tight box (x, y, w, h) of the foreground (rleToBbox, with the fix for runs that cross a column).
/// All zeros for an empty mask.
RTSEG_SDK_API std::array<double, 4> bbox(const RunLengths& rle);

/// IoU of every detection with every ground truth, [D x G] row-major (rleIou): for a crowd
/// ground truth the union is the detection's area. `is_crowd` has one flag per ground truth, or is
/// empty for none (DataError otherwise). As in pycocotools, pairs whose bounding boxes do not
/// overlap are 0 without looking at the runs, and a pair of different image sizes whose boxes do
/// overlap is -1. DataError for runs that do not add up to height * width.
RTSEG_SDK_API std::vector<double> iou(const std::vector<RunLengths>& detections,
                                      const std::vector<RunLengths>& ground_truths,
                                      const std::vector<bool>& is_crowd);
/// Box IoU with the same crowd rule (bbIou), boxes as (x, y, w, h); boxes that only touch give 0.
RTSEG_SDK_API std::vector<double> box_iou(const std::vector<std::array<double, 4>>& detections,
                                          const std::vector<std::array<double, 4>>& ground_truths,
                                          const std::vector<bool>& is_crowd);

}  // namespace masks
}  // namespace rtseg::sdk
