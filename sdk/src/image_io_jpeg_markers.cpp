// JPEG marker segments up to the first scan: frame size and EXIF orientation without decoding.

#include <cstring>

#include "image_io_internal.h"

namespace rtseg::sdk::image_detail {
namespace {

constexpr std::uint8_t kSoi = 0xD8;
constexpr std::uint8_t kEoi = 0xD9;
constexpr std::uint8_t kSos = 0xDA;
constexpr std::uint8_t kApp1 = 0xE1;
constexpr std::uint8_t kApp14 = 0xEE;
constexpr char kExifSignature[] = "Exif\0";  // with the implicit terminator: "Exif\0\0"
constexpr std::size_t kExifSignatureBytes = 6;

// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
bool is_frame_header(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Markers without a length field.
bool is_standalone(std::uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7);
}

std::string hex_byte(unsigned value) {
  constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[(value >> 4) & 0xF] + kDigits[value & 0xF];
}

unsigned be16(const std::uint8_t* p) { return (unsigned{p[0]} << 8) | p[1]; }

}  // namespace

std::optional<JpegHeader> scan_jpeg_header(std::string_view name, ByteView bytes,
                                           bool whole_file) {
  const std::uint8_t* data = bytes.data;
  const std::size_t size = bytes.size;
  auto ran_out = [&]() -> std::optional<JpegHeader> {
    if (whole_file) fail(name, "truncated JPEG (premature end of data)");
    return std::nullopt;
  };
  if (size < 2 || data[0] != 0xFF || data[1] != kSoi) fail(name, "not a JPEG file (no SOI marker)");

  JpegHeader header;
  bool have_frame = false;
  bool have_exif = false;
  std::size_t pos = 2;
  while (true) {
    if (pos >= size) return ran_out();
    if (data[pos] != 0xFF) {
      fail(name, "corrupt JPEG (expected a marker at byte " + std::to_string(pos) + ", found " +
                     hex_byte(data[pos]) + ")");
    }
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes may pad any marker
    if (pos >= size) return ran_out();
    const std::uint8_t marker = data[pos++];
    if (is_standalone(marker)) continue;
    if (marker == 0x00 || marker == kSoi) {
      fail(name, "corrupt JPEG (unexpected marker 0xff" + hex_byte(marker).substr(2) + ")");
    }
    if (marker == kEoi) fail(name, "corrupt JPEG (end of image before any image data)");
    if (pos + 2 > size) return ran_out();
    const std::size_t length = be16(data + pos);  // includes the two length bytes
    if (length < 2) {
      fail(name, "corrupt JPEG (segment length " + std::to_string(length) + " at byte " +
                     std::to_string(pos) + ")");
    }
    if (pos + length > size) return ran_out();
    const std::uint8_t* segment = data + pos + 2;
    const std::size_t segment_size = length - 2;
    pos += length;

    if (marker == kSos) {
      if (!have_frame) fail(name, "corrupt JPEG (image data before the frame header)");
      return header;
    }
    if (is_frame_header(marker)) {
      if (have_frame) fail(name, "corrupt JPEG (two frame headers)");
      if (segment_size < 6) fail(name, "corrupt JPEG (frame header too short)");
      header.precision = segment[0];
      header.height = be16(segment + 1);
      header.width = be16(segment + 3);
      header.components = segment[5];
      if (segment_size < 6 + 3 * std::size_t(header.components)) {
        fail(name, "corrupt JPEG (frame header too short for its components)");
      }
      if (header.width == 0 || header.height == 0) {
        fail(name, "unsupported JPEG (frame size " + std::to_string(header.width) + " x " +
                       std::to_string(header.height) + "; height set later by a DNL marker?)");
      }
      have_frame = true;
    } else if (marker == kApp1 && !have_exif && segment_size >= kExifSignatureBytes &&
               std::memcmp(segment, kExifSignature, kExifSignatureBytes) == 0) {
      have_exif = true;  // only the first EXIF block counts, as in other readers
      header.orientation = exif_orientation(
          {segment + kExifSignatureBytes, segment_size - kExifSignatureBytes});
    } else if (marker == kApp14 && segment_size >= 5 && std::memcmp(segment, "Adobe", 5) == 0) {
      header.adobe = true;
    }
  }
}

}  // namespace rtseg::sdk::image_detail
