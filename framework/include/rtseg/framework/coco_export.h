#pragma once

#include <filesystem>
#include <string>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework {

/// Writes a dataset in Roboflow's COCO layout: <folder>/<split>/_annotations.coco.json with the
/// images beside it (as `image_format`: "jpg" or "png"). Polygons stay polygons, masks are written
/// as compressed RLE. Every file is written atomically. Returns the number of images written.
std::int64_t export_coco(const sdk::Dataset& dataset, const std::filesystem::path& folder,
                         const std::string& image_format = "jpg");

}  // namespace rtseg::framework
