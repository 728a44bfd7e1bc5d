#pragma once

#include <string>

#include "annotation_reader.h"

namespace rtseg::plugins::coco {

/// Validates one annotation against its image and finishes it: drops degenerate polygons, decodes
/// the RLE into counts, fills a missing area. Returns false when the annotation must be skipped;
/// `reason` then says why. When it returns true, a non-empty `reason` tells what was dropped.
///
/// A missing `area` becomes the mask's pixel count (RLE, or polygons rasterised as pycocotools
/// does), or the box area for an annotation without an outline.
bool check_annotation(RawAnnotation& raw, const sdk::ImageRecord& image, std::string& reason);

}  // namespace rtseg::plugins::coco
