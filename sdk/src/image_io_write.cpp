// Encoding entry points and atomic image files.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "image_io_internal.h"
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

[[noreturn]] void fail_write(const fs::path& file, const std::string& what) {
  throw Error(file.string() + ": cannot write image (" + what + ": " + std::strerror(errno) + ")");
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

// Readers never see a half-written file: the bytes go to a hidden temp file beside `file`
// (same file system, so rename is atomic), reach the disk, then replace `file` in one step.
void write_atomically(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  static std::atomic<unsigned> counter{0};
  const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = folder / ("." + file.filename().string() + ".tmp" + std::to_string(::getpid()) + "_" +
                     std::to_string(counter++));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt > 100)) fail_write(file, "create " + temp.string());
  }
  auto abandon = [&](const std::string& what) {
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    errno = saved;
    fail_write(file, what);
  };
  if (!write_all(fd, bytes.data(), bytes.size())) abandon("write");
  if (::fsync(fd) != 0) abandon("fsync");
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) abandon("close");
  if (::rename(temp.c_str(), file.c_str()) != 0) abandon("rename");
  // Make the rename itself durable; a failure here loses nothing already visible.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
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
  write_atomically(file, bytes);
}

}  // namespace rtseg::sdk
