#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::coco {

/// Decodes `record.file` so that its pixels are the ones the annotations were drawn on.
///
/// EXIF policy: the image is decoded with its EXIF orientation applied (as Detectron2 and
/// Ultralytics do). When that size differs from the annotation file's width x height but the stored
/// (un-rotated) size matches, the annotations were made on the stored pixels, and the image is
/// decoded again without orientation. When both fit (square images), orientation is applied.
/// When neither fits, throws sdk::DataError "<file>: image is W x H but the annotation file says
/// w x h".
at::Tensor decode_as_annotated(const sdk::ImageRecord& record);

/// The header-only version of the same check, for image_check = "header": empty when the image
/// is readable and one of its sizes matches, else the reason.
std::string check_image_header(const sdk::ImageRecord& record);

}  // namespace rtseg::plugins::coco
