// PNG decoding and encoding through libspng.

#include <ATen/ops/empty.h>
#include <spng.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>

#include "image_io_internal.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::sdk::image_detail {
namespace {

struct ContextFree {
  void operator()(spng_ctx* context) const { spng_ctx_free(context); }
};
using Context = std::unique_ptr<spng_ctx, ContextFree>;

struct MallocFree {
  void operator()(void* buffer) const { std::free(buffer); }
};

// Ancillary chunks (text, ICC profiles, EXIF) bigger than this are refused, and all of them
// together may not hold more: a forged length must not make spng allocate gigabytes.
constexpr std::size_t kMaxChunkBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxChunkCacheBytes = std::size_t{64} << 20;
constexpr std::uint32_t kSpngMaxDimension = std::numeric_limits<std::int32_t>::max();

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// The buffer reader reports SPNG_IO_EOF; SPNG_EOF is its public twin.
bool is_end_of_data(int error) { return error == SPNG_IO_EOF || error == SPNG_EOF; }

// A decoder over `bytes` whose per-side limit keeps absurd sizes out before anything is allocated.
Context open_decoder(std::string_view name, ByteView bytes, std::int64_t max_pixels) {
  Context context(spng_ctx_new(0));
  if (!context) throw Error("cannot create a libspng decoder");
  const std::uint32_t max_side = static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(max_pixels, 1, kSpngMaxDimension));
  spng_set_image_limits(context.get(), max_side, max_side);
  spng_set_chunk_limits(context.get(), kMaxChunkBytes, kMaxChunkCacheBytes);
  if (spng_set_png_buffer(context.get(), bytes.data, bytes.size) != 0) {
    fail(name, "cannot read PNG");
  }
  return context;
}

[[noreturn]] void fail_spng(std::string_view name, ByteView bytes, int error,
                            std::int64_t max_pixels) {
  if (is_end_of_data(error)) fail(name, "truncated PNG (premature end of data)");
  if ((error == SPNG_EUSER_WIDTH || error == SPNG_EUSER_HEIGHT) && bytes.size >= 24) {
    // The IHDR fields sit at fixed offsets after the signature and the chunk's length and type.
    check_pixel_count(name, be32(bytes.data + 16), be32(bytes.data + 20), max_pixels);
  }
  const std::string reason = spng_strerror(error);
  if (error == SPNG_EBIT_DEPTH || error == SPNG_ECOLOR_TYPE || error == SPNG_EINTERLACE_METHOD ||
      error == SPNG_ECOMPRESSION_METHOD || error == SPNG_EFILTER_METHOD) {
    fail(name, "unsupported or corrupt PNG (" + reason + ")");
  }
  fail(name, "corrupt PNG (" + reason + ")");
}

ImageInfo info_from(const spng_ihdr& header) {
  ImageInfo info;
  info.format = "png";
  info.raw_width = header.width;
  info.raw_height = header.height;
  return info;
}

// The eXIf chunk's orientation (1 without one), reading the chunks before the image data. spng
// drops malformed ancillary chunks, so an error here is one that decoding would meet too.
int png_orientation(std::string_view name, ByteView bytes, spng_ctx* context, std::int64_t max_pixels) {
  spng_exif exif{};
  const int error = spng_get_exif(context, &exif);
  if (error == SPNG_ECHUNKAVAIL) return 1;
  if (error != 0) fail_spng(name, bytes, error, max_pixels);
  return exif_orientation({reinterpret_cast<const std::uint8_t*>(exif.data), exif.length});
}

}  // namespace

std::optional<ImageInfo> read_png_info(std::string_view name, ByteView bytes, bool whole_file) {
  const Context context = open_decoder(name, bytes, std::int64_t{kSpngMaxDimension});
  spng_ihdr header{};
  if (const int error = spng_get_ihdr(context.get(), &header); error != 0) {
    if (is_end_of_data(error) && !whole_file) return std::nullopt;
    fail_spng(name, bytes, error, std::numeric_limits<std::int64_t>::max());
  }
  ImageInfo info = info_from(header);
  spng_exif exif{};
  const int exif_status = spng_get_exif(context.get(), &exif);
  if (is_end_of_data(exif_status) && !whole_file) return std::nullopt;  // eXIf may lie further on
  if (exif_status == 0) {
    info.orientation =
        exif_orientation({reinterpret_cast<const std::uint8_t*>(exif.data), exif.length});
  }
  set_oriented_size(info);
  return info;
}

DecodedImage decode_png(std::string_view name, ByteView bytes, bool apply_orientation,
                        std::int64_t max_pixels) {
  const Context context = open_decoder(name, bytes, max_pixels);
  spng_ihdr header{};
  if (const int error = spng_get_ihdr(context.get(), &header); error != 0) {
    fail_spng(name, bytes, error, max_pixels);
  }
  check_pixel_count(name, header.width, header.height, max_pixels);
  DecodedImage image;
  image.info = info_from(header);
  image.info.orientation = png_orientation(name, bytes, context.get(), max_pixels);
  set_oriented_size(image.info);

  // spng expands grey, palette and 16-bit samples to RGB8 and drops alpha (as PIL's
  // convert("RGB") does: no compositing), straight into the tensor.
  const bool reorient = apply_orientation && image.info.orientation != 1;
  const at::Tensor stored = stored_pixels_target(header.height, header.width, reorient);
  std::size_t expected = 0;
  if (const int error = spng_decoded_image_size(context.get(), SPNG_FMT_RGB8, &expected);
      error != 0 || expected != std::size_t(stored.nbytes())) {
    fail_spng(name, bytes, error != 0 ? error : SPNG_EINTERNAL, max_pixels);
  }
  if (const int error = spng_decode_image(context.get(), stored.data_ptr<std::uint8_t>(), expected,
                                          SPNG_FMT_RGB8, 0);
      error != 0) {
    fail_spng(name, bytes, error, max_pixels);
  }
  image.pixels = reorient ? orient_pixels(stored, image.info.orientation) : stored;
  return image;
}

std::vector<std::uint8_t> encode_png_pixels(const at::Tensor& pixels) {
  const bool grey = pixels.dim() == 2;
  if (pixels.size(0) > kSpngMaxDimension || pixels.size(1) > kSpngMaxDimension) {
    throw Error("encode_png: image too large for PNG");
  }
  Context context(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!context) throw Error("cannot create a libspng encoder");
  spng_set_option(context.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr header{};
  header.width = static_cast<std::uint32_t>(pixels.size(1));
  header.height = static_cast<std::uint32_t>(pixels.size(0));
  header.bit_depth = 8;
  header.color_type = grey ? SPNG_COLOR_TYPE_GRAYSCALE : SPNG_COLOR_TYPE_TRUECOLOR;
  int error = spng_set_ihdr(context.get(), &header);
  if (error == 0) {
    error = spng_encode_image(context.get(), pixels.data_ptr<std::uint8_t>(), pixels.nbytes(),
                              SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  }
  std::size_t size = 0;
  std::unique_ptr<void, MallocFree> buffer;
  if (error == 0) buffer.reset(spng_get_png_buffer(context.get(), &size, &error));
  if (error != 0 || !buffer) throw Error(std::string("encode_png: ") + spng_strerror(error));
  const auto* begin = static_cast<const std::uint8_t*>(buffer.get());
  return std::vector<std::uint8_t>(begin, begin + size);
}

}  // namespace rtseg::sdk::image_detail
