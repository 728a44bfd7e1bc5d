#include "coco_dataset.h"

#include "image_loading.h"

namespace rtseg::plugins::coco {

at::Tensor CocoDataset::decode(const sdk::ImageRecord& record) const { return decode_as_annotated(record); }

}  // namespace rtseg::plugins::coco
