#pragma once

// Internals of the image module (image_io*.cpp), shared between its files; not part of the SDK API.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/image_io.h"

// Internal to librtseg_sdk.so: kept out of its exported symbols.
#pragma GCC visibility push(hidden)

namespace rtseg::sdk::image_detail {

/// Encoded bytes, borrowed.
struct ByteView {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

/// Throws DataError("<name>: <reason>").
[[noreturn]] void fail(std::string_view name, const std::string& reason);

/// Throws DataError unless 0 < width, height and width * height <= max_pixels.
void check_pixel_count(std::string_view name, std::int64_t width, std::int64_t height,
                       std::int64_t max_pixels);

/// Fills info.width/height from raw_width/raw_height and info.orientation.
void set_oriented_size(ImageInfo& info);

// ---- EXIF (image_io_exif.cpp) -------------------------------------------------------------------

/// The orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block (what follows
/// "Exif\0\0" in a JPEG APP1 segment, or a PNG eXIf chunk). 1 when absent, out of range or when
/// the block is malformed: bad metadata never rejects an image.
int exif_orientation(ByteView tiff) noexcept;

/// Where a decoder writes uint8 [height, width, 3] stored pixels. Without reorientation that is
/// the returned tensor itself. With it, a per-thread scratch buffer (a non-owning tensor, valid
/// until the thread's next call) that orient_pixels then copies from.
at::Tensor stored_pixels_target(std::int64_t height, std::int64_t width, bool will_reorient);

/// Rearranges contiguous uint8 [H, W, 3] stored pixels as a viewer shows them, into a new tensor
/// (orientation 2..8; others give a plain copy). One pass.
at::Tensor orient_pixels(const at::Tensor& stored, int orientation);

// ---- JPEG (image_io_jpeg_markers.cpp, image_io_jpeg.cpp) ----------------------------------------

/// What the marker segments before the first scan say.
struct JpegHeader {
  std::int64_t width = 0;
  std::int64_t height = 0;
  int components = 0;
  int precision = 0;
  int orientation = 1;
  bool adobe = false;  ///< APP14 "Adobe" present: CMYK samples are stored inverted
};

/// Walks the marker segments from SOI to the first SOS without decoding anything. Returns
/// nullopt when `bytes` ends first and `whole_file` is false (the caller reads more); throws
/// DataError on a malformed structure or when a whole file ends early.
std::optional<JpegHeader> scan_jpeg_header(std::string_view name, ByteView bytes, bool whole_file);

DecodedImage decode_jpeg(std::string_view name, ByteView bytes, bool apply_orientation,
                         std::int64_t max_pixels);

/// `pixels`: contiguous CPU uint8 [H, W, 3] or [H, W]; quality 1..100.
std::vector<std::uint8_t> encode_jpeg_pixels(const at::Tensor& pixels, int quality);

// ---- PNG (image_io_png.cpp) ---------------------------------------------------------------------

/// Header (IHDR, and eXIf when it precedes the image data). nullopt when `bytes` ends first and
/// `whole_file` is false; throws DataError otherwise.
std::optional<ImageInfo> read_png_info(std::string_view name, ByteView bytes, bool whole_file);

DecodedImage decode_png(std::string_view name, ByteView bytes, bool apply_orientation,
                        std::int64_t max_pixels);

/// `pixels`: contiguous CPU uint8 [H, W, 3] or [H, W].
std::vector<std::uint8_t> encode_png_pixels(const at::Tensor& pixels);

}  // namespace rtseg::sdk::image_detail

#pragma GCC visibility pop
