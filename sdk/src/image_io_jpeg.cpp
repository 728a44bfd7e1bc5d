// JPEG decoding and encoding through the TurboJPEG API of libjpeg-turbo.

#include <ATen/ops/empty.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>

#include "image_io_internal.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::sdk::image_detail {
namespace {

struct HandleCloser {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using Handle = std::unique_ptr<void, HandleCloser>;

struct JpegBufferFree {
  void operator()(unsigned char* buffer) const { tjFree(buffer); }
};

// One decompressor per thread, reused: loader threads decode many images each. TurboJPEG resets
// a handle after an error, so a failed decode leaves it usable.
tjhandle decompressor() {
  thread_local Handle handle(tjInitDecompress());
  if (!handle) throw Error("cannot create a TurboJPEG decompressor: " + std::string(tjGetErrorStr2(nullptr)));
  return handle.get();
}

// Warnings stop decoding (a truncated or damaged JPEG would otherwise come back partly grey), and
// progressive images with absurd numbers of scans are refused. Decompression uses the accurate
// integer IDCT and smooth upsampling by default, as libjpeg (and so PIL) does.
constexpr int kDecodeFlags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;

[[noreturn]] void fail_turbojpeg(std::string_view name, tjhandle handle) {
  const std::string message = tjGetErrorStr2(handle);
  if (message.find("Premature end") != std::string::npos) {
    fail(name, "truncated JPEG (premature end of data)");
  }
  if (message.find("Unsupported") != std::string::npos ||
      message.find("not supported") != std::string::npos) {
    fail(name, "unsupported JPEG (" + message + ")");
  }
  fail(name, "corrupt JPEG (" + message + ")");
}

// libjpeg-turbo cannot convert CMYK to RGB, so CMYK/YCCK images are decoded to CMYK and
// converted here as PIL does: Adobe files store the inks inverted (0 = full ink).
std::uint8_t times_over_255(unsigned a, unsigned b) {
  const unsigned product = a * b + 128;
  return static_cast<std::uint8_t>((product + (product >> 8)) >> 8);
}

void cmyk_to_rgb(const std::uint8_t* cmyk, std::uint8_t* rgb, std::int64_t pixels, bool inverted) {
  for (std::int64_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
    for (int channel = 0; channel < 3; ++channel) {
      const unsigned ink = inverted ? cmyk[channel] : 255u - cmyk[channel];
      rgb[channel] = times_over_255(ink, k);
    }
  }
}

}  // namespace

DecodedImage decode_jpeg(std::string_view name, ByteView bytes, bool apply_orientation,
                         std::int64_t max_pixels) {
  const JpegHeader header = *scan_jpeg_header(name, bytes, /*whole_file=*/true);
  if (header.precision != 8) {
    fail(name, "unsupported JPEG (" + std::to_string(header.precision) + "-bit samples)");
  }
  check_pixel_count(name, header.width, header.height, max_pixels);

  tjhandle handle = decompressor();
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  if (tjDecompressHeader3(handle, bytes.data, bytes.size, &width, &height, &subsampling,
                          &colorspace) != 0) {
    fail_turbojpeg(name, handle);
  }
  if (width != header.width || height != header.height) {
    fail(name, "corrupt JPEG (inconsistent frame size)");
  }

  DecodedImage image;
  image.info.format = "jpeg";
  image.info.raw_width = width;
  image.info.raw_height = height;
  image.info.orientation = header.orientation;
  set_oriented_size(image.info);

  const bool reorient = apply_orientation && header.orientation != 1;
  const at::Tensor stored = stored_pixels_target(height, width, reorient);
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    std::unique_ptr<std::uint8_t[]> cmyk(new std::uint8_t[std::size_t(width) * height * 4]);
    if (tjDecompress2(handle, bytes.data, bytes.size, cmyk.get(), width, width * 4, height,
                      TJPF_CMYK, kDecodeFlags) != 0) {
      fail_turbojpeg(name, handle);
    }
    cmyk_to_rgb(cmyk.get(), stored.data_ptr<std::uint8_t>(), std::int64_t{width} * height,
                header.adobe);
  } else if (tjDecompress2(handle, bytes.data, bytes.size, stored.data_ptr<std::uint8_t>(), width,
                           width * 3, height, TJPF_RGB, kDecodeFlags) != 0) {
    fail_turbojpeg(name, handle);
  }
  image.pixels = reorient ? orient_pixels(stored, header.orientation) : stored;
  return image;
}

std::vector<std::uint8_t> encode_jpeg_pixels(const at::Tensor& pixels, int quality) {
  const bool grey = pixels.dim() == 2;
  const std::int64_t height = pixels.size(0);
  const std::int64_t width = pixels.size(1);
  if (width > 65535 || height > 65535) {
    throw Error("encode_jpeg: a JPEG holds at most 65535 x 65535 pixels, got " +
                std::to_string(width) + " x " + std::to_string(height));
  }
  Handle compressor(tjInitCompress());
  if (!compressor) throw Error("cannot create a TurboJPEG compressor: " + std::string(tjGetErrorStr2(nullptr)));
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int status = tjCompress2(compressor.get(), pixels.data_ptr<std::uint8_t>(), int(width),
                                 0, int(height), grey ? TJPF_GRAY : TJPF_RGB, &buffer, &size,
                                 grey ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  const std::unique_ptr<unsigned char, JpegBufferFree> owned(buffer);
  if (status != 0) {
    throw Error("encode_jpeg: " + std::string(tjGetErrorStr2(compressor.get())));
  }
  return std::vector<std::uint8_t>(buffer, buffer + size);
}

}  // namespace rtseg::sdk::image_detail
