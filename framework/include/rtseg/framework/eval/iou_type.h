#pragma once

namespace rtseg::framework::eval {

/// Which IoU the COCO evaluation uses: boxes ("bbox") or masks ("segm").
enum class IouType { kBox, kSegm };

/// "bbox" or "segm".
const char* iou_type_name(IouType type);

}  // namespace rtseg::framework::eval
