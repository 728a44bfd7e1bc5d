// Encoding entry points and atomic image files.

#include <algorithm>
#include <cctype>
#include <sstream>

#include "image_io_internal.h"
#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::sdk {
namespace {

namespace fs = std::filesystem;

std::string shape_text(const at::Tensor& tensor) {
  std::ostringstream text;
  text << tensor.sizes();
  return text.str();
}

// uint8 [H, W, 3] or [H, W], non-empty, as a contiguous CPU tensor.
at::Tensor encodable(const at::Tensor& pixels, const char* caller) {
  const std::string where = std::string(caller) + ": ";
  if (!pixels.defined()) throw Error(where + "pixels is an undefined tensor");
  if (pixels.scalar_type() != at::kByte) {
    throw Error(where + "pixels must be uint8, got " + std::string(c10::toString(pixels.scalar_type())));
  }
  const bool rgb = pixels.dim() == 3 && pixels.size(2) == 3;
  if (!rgb && pixels.dim() != 2) {
    throw Error(where + "pixels must be [H, W, 3] RGB or [H, W] grey, got " + shape_text(pixels));
  }
  if (pixels.size(0) == 0 || pixels.size(1) == 0) {
    throw Error(where + "pixels is empty " + shape_text(pixels));
  }
  return pixels.cpu().contiguous();
}

std::string lowercase_extension(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const at::Tensor& pixels) {
  return image_detail::encode_png_pixels(encodable(pixels, "encode_png"));
}

std::vector<std::uint8_t> encode_jpeg(const at::Tensor& pixels, int quality) {
  if (quality < 1 || quality > 100) {
    throw Error("encode_jpeg: quality must be in 1..100, got " + std::to_string(quality));
  }
  return image_detail::encode_jpeg_pixels(encodable(pixels, "encode_jpeg"), quality);
}

void write_image(const fs::path& file, const at::Tensor& pixels, int jpeg_quality) {
  const std::string extension = lowercase_extension(file);
  std::vector<std::uint8_t> bytes;
  if (extension == ".png") {
    bytes = encode_png(pixels);
  } else if (extension == ".jpg" || extension == ".jpeg") {
    bytes = encode_jpeg(pixels, jpeg_quality);
  } else {
    throw Error(file.string() + ": cannot tell the image format from the extension '" + extension +
                "' (use .png, .jpg or .jpeg)");
  }
  AtomicFile out(file);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace rtseg::sdk
