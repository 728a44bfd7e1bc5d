// Decoding entry points: reading files, telling JPEG from PNG by content, shared checks.

#include "rtseg/sdk/image_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "image_io_internal.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::sdk {
namespace image_detail {

void fail(std::string_view name, const std::string& reason) {
  throw DataError(std::string(name) + ": " + reason);
}

void check_pixel_count(std::string_view name, std::int64_t width, std::int64_t height,
                       std::int64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    fail(name, "empty image (" + std::to_string(width) + " x " + std::to_string(height) + ")");
  }
  // width, height < 2^32 in both formats: the product cannot overflow.
  if (width * height > max_pixels) {
    fail(name, "image too large (" + std::to_string(width) + " x " + std::to_string(height) +
                   " pixels > max_pixels = " + std::to_string(max_pixels) + ")");
  }
}

}  // namespace image_detail

namespace {

namespace fs = std::filesystem;
using image_detail::ByteView;
using image_detail::fail;

// read_image_info reads this much first: enough for the headers of nearly every file.
constexpr std::size_t kHeaderPrefixBytes = 64 * 1024;
constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::uint8_t kJpegSignature[3] = {0xFF, 0xD8, 0xFF};

enum class Format { kJpeg, kPng };

struct FileBytes {
  std::unique_ptr<std::uint8_t[]> data;  // not zero-filled: the file overwrites it
  std::size_t size = 0;
  bool whole_file = true;
  ByteView view() const { return {data.get(), size}; }
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { ::close(fd_); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The first `limit` bytes of a regular file (all of it by default).
FileBytes read_file(const fs::path& file, std::size_t limit = SIZE_MAX) {
  const std::string name = file.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail(name, "missing file");
    fail(name, std::string("cannot open (") + std::strerror(errno) + ")");
  }
  const FileDescriptor guard(fd);
  struct stat status {};
  if (::fstat(fd, &status) != 0) fail(name, std::string("cannot stat (") + std::strerror(errno) + ")");
  if (S_ISDIR(status.st_mode)) fail(name, "is a directory, not an image file");
  if (!S_ISREG(status.st_mode)) fail(name, "not a regular file");

  const std::size_t file_size = static_cast<std::size_t>(status.st_size);
  FileBytes bytes;
  bytes.whole_file = file_size <= limit;
  const std::size_t wanted = std::min(file_size, limit);
  bytes.data.reset(new std::uint8_t[std::max<std::size_t>(wanted, 1)]);
  while (bytes.size < wanted) {
    const ssize_t got = ::read(fd, bytes.data.get() + bytes.size, wanted - bytes.size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(name, std::string("cannot read (") + std::strerror(errno) + ")");
    if (got == 0) break;  // the file shrank meanwhile: decode what is there
    bytes.size += static_cast<std::size_t>(got);
  }
  return bytes;
}

bool starts_with(ByteView bytes, const std::uint8_t* prefix, std::size_t prefix_size) {
  return bytes.size >= prefix_size && std::memcmp(bytes.data, prefix, prefix_size) == 0;
}

// A helpful guess for files that are images of another kind.
std::string known_format(ByteView bytes) {
  auto has = [&](std::size_t at, std::string_view text) {
    return bytes.size >= at + text.size() && std::memcmp(bytes.data + at, text.data(), text.size()) == 0;
  };
  if (has(0, "GIF8")) return "GIF";
  if (has(0, "BM")) return "BMP";
  if (has(0, "RIFF") && has(8, "WEBP")) return "WebP";
  if (has(0, std::string_view("II*\0", 4)) || has(0, std::string_view("MM\0*", 4))) return "TIFF";
  if (has(4, "ftyp")) return "HEIF/AVIF/MP4";
  return "";
}

Format sniff_format(std::string_view name, ByteView bytes) {
  if (bytes.size == 0) fail(name, "empty file");
  if (starts_with(bytes, kJpegSignature, sizeof kJpegSignature)) return Format::kJpeg;
  if (starts_with(bytes, kPngSignature, sizeof kPngSignature)) return Format::kPng;
  // A file cut inside its signature is still recognisably one of ours.
  if (bytes.size < sizeof kPngSignature && std::memcmp(bytes.data, kPngSignature, bytes.size) == 0) {
    fail(name, "truncated PNG (premature end of data)");
  }
  if (bytes.size < sizeof kJpegSignature && std::memcmp(bytes.data, kJpegSignature, bytes.size) == 0) {
    fail(name, "truncated JPEG (premature end of data)");
  }
  std::string start;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size, 4); ++i) {
    const unsigned char c = bytes.data[i];
    if (std::isprint(c) && c != '\\' && c != '\'') {
      start += static_cast<char>(c);
    } else {
      constexpr char kDigits[] = "0123456789abcdef";
      start += std::string("\\x") + kDigits[c >> 4] + kDigits[c & 0xF];
    }
  }
  const std::string guess = known_format(bytes);
  fail(name, "not a JPEG or PNG file (starts with '" + start + "'" +
                 (guess.empty() ? "" : ", looks like " + guess) + ")");
}

DecodedImage decode_bytes(std::string_view name, ByteView bytes, bool apply_orientation,
                          std::int64_t max_pixels) {
  if (max_pixels <= 0) throw Error("decode_image: max_pixels must be positive");
  return sniff_format(name, bytes) == Format::kJpeg
             ? image_detail::decode_jpeg(name, bytes, apply_orientation, max_pixels)
             : image_detail::decode_png(name, bytes, apply_orientation, max_pixels);
}

std::optional<ImageInfo> info_from_bytes(std::string_view name, ByteView bytes, bool whole_file) {
  if (sniff_format(name, bytes) == Format::kPng) {
    return image_detail::read_png_info(name, bytes, whole_file);
  }
  const std::optional<image_detail::JpegHeader> header =
      image_detail::scan_jpeg_header(name, bytes, whole_file);
  if (!header) return std::nullopt;
  ImageInfo info;
  info.format = "jpeg";
  info.raw_width = header->width;
  info.raw_height = header->height;
  info.orientation = header->orientation;
  image_detail::set_oriented_size(info);
  return info;
}

}  // namespace

DecodedImage decode_image(const fs::path& file, bool apply_orientation, std::int64_t max_pixels) {
  const FileBytes bytes = read_file(file);
  return decode_bytes(file.string(), bytes.view(), apply_orientation, max_pixels);
}

DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, std::string_view name,
                          bool apply_orientation, std::int64_t max_pixels) {
  return decode_bytes(name, {bytes.data(), bytes.size()}, apply_orientation, max_pixels);
}

ImageInfo read_image_info(const fs::path& file) {
  const std::string name = file.string();
  FileBytes bytes = read_file(file, kHeaderPrefixBytes);
  if (bytes.whole_file) return *info_from_bytes(name, bytes.view(), true);
  if (std::optional<ImageInfo> info = info_from_bytes(name, bytes.view(), false)) return *info;
  // Large metadata (ICC profiles, thumbnails) ahead of the frame header: read everything.
  bytes = read_file(file);
  return *info_from_bytes(name, bytes.view(), true);
}

}  // namespace rtseg::sdk
