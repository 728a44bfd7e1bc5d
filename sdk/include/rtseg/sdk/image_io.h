#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/export.h"

/// Image files without OpenCV: JPEG through libjpeg-turbo, PNG through libspng.
///
/// EXIF orientation policy: decoding applies the JPEG's EXIF orientation (as Detectron2 and
/// Ultralytics do), so pixels appear as a viewer shows them; `raw_width`/`raw_height` keep the
/// stored size so that a dataset whose annotations were made on the stored pixels can tell (see
/// docs/data.md).
namespace rtseg::sdk {

struct ImageInfo {
  std::int64_t width = 0;       ///< after EXIF orientation
  std::int64_t height = 0;      ///< after EXIF orientation
  std::int64_t raw_width = 0;   ///< as stored in the file
  std::int64_t raw_height = 0;  ///< as stored in the file
  int orientation = 1;          ///< EXIF orientation tag, 1..8 (1 = as stored)
  std::string format;           ///< "jpeg" or "png"
};

struct DecodedImage {
  at::Tensor pixels;  ///< uint8 [H, W, 3] RGB (grey and palette images are expanded, alpha dropped)
  ImageInfo info;
};

/// Decodes a JPEG or PNG (recognised by content, not extension). `apply_orientation` = false keeps
/// the stored pixel layout. Throws DataError naming the file and the reason: missing, unreadable,
/// truncated, corrupt, unsupported format, or larger than `max_pixels`.
RTSEG_SDK_API DecodedImage decode_image(const std::filesystem::path& file, bool apply_orientation = true,
                                        std::int64_t max_pixels = 1LL << 28);
RTSEG_SDK_API DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, std::string_view name,
                                        bool apply_orientation = true,
                                        std::int64_t max_pixels = 1LL << 28);

/// Reads only the header (size, orientation): cheap, for dataset checks. Throws DataError.
RTSEG_SDK_API ImageInfo read_image_info(const std::filesystem::path& file);

/// Encodes uint8 [H, W, 3] RGB (or [H, W] grey). Throws Error on bad input.
RTSEG_SDK_API std::vector<std::uint8_t> encode_png(const at::Tensor& pixels);
RTSEG_SDK_API std::vector<std::uint8_t> encode_jpeg(const at::Tensor& pixels, int quality = 90);

/// Writes PNG or JPEG (by extension: .png, .jpg/.jpeg) atomically (temp file + rename).
RTSEG_SDK_API void write_image(const std::filesystem::path& file, const at::Tensor& pixels,
                               int jpeg_quality = 90);

}  // namespace rtseg::sdk
