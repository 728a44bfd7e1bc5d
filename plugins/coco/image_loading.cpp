#include "image_loading.h"

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::plugins::coco {
namespace {

enum class Fit { kOriented, kStored, kNone };

Fit fit_of(const sdk::ImageInfo& info, const sdk::ImageRecord& record) {
  if (info.width == record.width && info.height == record.height) return Fit::kOriented;
  if (info.raw_width == record.width && info.raw_height == record.height) return Fit::kStored;
  return Fit::kNone;
}

std::string mismatch(const sdk::ImageInfo& info, const sdk::ImageRecord& record) {
  std::string text = "image is " + std::to_string(info.width) + " x " + std::to_string(info.height);
  if (info.orientation != 1) {
    text += " (stored " + std::to_string(info.raw_width) + " x " + std::to_string(info.raw_height) +
            ", EXIF orientation " + std::to_string(info.orientation) + ")";
  }
  return text + " but the annotation file says " + std::to_string(record.width) + " x " +
         std::to_string(record.height);
}

}  // namespace

at::Tensor decode_as_annotated(const sdk::ImageRecord& record) {
  sdk::DecodedImage decoded = sdk::decode_image(record.file, /*apply_orientation=*/true);
  switch (fit_of(decoded.info, record)) {
    case Fit::kOriented:
      return decoded.pixels;
    case Fit::kStored:
      return sdk::decode_image(record.file, /*apply_orientation=*/false).pixels;
    case Fit::kNone:
      break;
  }
  throw sdk::DataError(record.file + ": " + mismatch(decoded.info, record));
}

std::string check_image_header(const sdk::ImageRecord& record) {
  try {
    const sdk::ImageInfo info = sdk::read_image_info(record.file);
    return fit_of(info, record) == Fit::kNone ? record.file + ": " + mismatch(info, record) : "";
  } catch (const sdk::Error& error) {
    return error.what();
  }
}

}  // namespace rtseg::plugins::coco
