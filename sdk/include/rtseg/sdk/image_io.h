#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/export.h"

/// Image files without OpenCV: JPEG through libjpeg-turbo (TurboJPEG API), PNG through libspng.
///
/// EXIF orientation policy: decoding applies the EXIF orientation (as Detectron2 and Ultralytics
/// do, through PIL's exif_transpose), so pixels appear as a viewer shows them; `raw_width`/
/// `raw_height` keep the stored size so that a dataset whose annotations were made on the stored
/// pixels can tell (see docs/data.md). The tag is read from a JPEG's first APP1 "Exif" segment or
/// from a PNG's eXIf chunk; malformed EXIF data counts as orientation 1, never as an error.
///
/// Every function may be called from several threads at once.
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

/// Decodes a JPEG or PNG (recognised by content, not extension) into a contiguous CPU tensor.
/// Grey, palette and CMYK images become RGB, alpha is dropped (not composited), 16-bit samples
/// keep their high byte. `apply_orientation` = false keeps the stored pixel layout; `info`
/// describes the file either way (as read_image_info does), so then the tensor is
/// [raw_height, raw_width, 3]. Throws DataError "<file or name>: <reason>": missing, unreadable,
/// empty, not a JPEG or PNG, truncated, corrupt, unsupported (12-bit JPEG, ...), or more than
/// `max_pixels` pixels (checked from the header, before decoding). Damage that libjpeg-turbo
/// would only warn about (a truncated scan, a missing end-of-image marker) is an error too: a
/// partly grey picture is never returned.
RTSEG_SDK_API DecodedImage decode_image(const std::filesystem::path& file, bool apply_orientation = true,
                                        std::int64_t max_pixels = 1LL << 28);
/// The same for bytes in memory; `name` stands for the file in error messages.
RTSEG_SDK_API DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, std::string_view name,
                                        bool apply_orientation = true,
                                        std::int64_t max_pixels = 1LL << 28);

/// Reads only the header (size, orientation): cheap, for dataset checks. Reads the first 64 KiB
/// of the file, all of it only when large metadata pushes the header further. Throws DataError
/// as decode_image does for problems it can see in the header.
RTSEG_SDK_API ImageInfo read_image_info(const std::filesystem::path& file);

/// Encodes uint8 [H, W, 3] RGB (or [H, W] grey), on any device and in any memory layout.
/// PNG: 8-bit, lossless. JPEG: 4:2:0 chroma subsampling (grey: one channel), `quality` 1..100.
/// Throws Error on bad input (dtype, shape, empty, quality, a JPEG side over 65535).
RTSEG_SDK_API std::vector<std::uint8_t> encode_png(const at::Tensor& pixels);
RTSEG_SDK_API std::vector<std::uint8_t> encode_jpeg(const at::Tensor& pixels, int quality = 90);

/// Writes PNG or JPEG (by extension, any case: .png, .jpg/.jpeg) atomically: the bytes go to a
/// hidden temp file in the same folder, are synced to disk and renamed over `file`, so readers
/// see the old file or the whole new one. Throws Error (bad input, unknown extension, I/O
/// failure); nothing is left behind on failure.
RTSEG_SDK_API void write_image(const std::filesystem::path& file, const at::Tensor& pixels,
                               int jpeg_quality = 90);

}  // namespace rtseg::sdk
