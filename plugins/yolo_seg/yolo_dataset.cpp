#include "yolo_dataset.h"

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::plugins::yolo_seg {

at::Tensor YoloSegDataset::decode(const sdk::ImageRecord& record) const {
  at::Tensor pixels = sdk::decode_image(record.file, /*apply_orientation=*/true).pixels;
  const std::int64_t height = pixels.size(0), width = pixels.size(1);
  if (width != record.width || height != record.height) {
    throw sdk::DataError(record.file + ": image is " + std::to_string(width) + " x " + std::to_string(height) +
                         " but was " + std::to_string(record.width) + " x " + std::to_string(record.height) +
                         " when the dataset was built (changed on disk?)");
  }
  return pixels;
}

}  // namespace rtseg::plugins::yolo_seg
