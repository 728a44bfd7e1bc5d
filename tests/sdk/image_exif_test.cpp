// EXIF orientation in JPEGs: every orientation, both byte orders, and malformed EXIF blocks.

#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/flip.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "test_support.h"

namespace rtseg::sdk {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using rtseg::testing::TempDir;

constexpr std::int64_t kHeight = 23;  // not multiples of the 8/16-pixel JPEG blocks
constexpr std::int64_t kWidth = 37;

// Every pixel different and no symmetry: a wrong flip or rotation cannot go unnoticed.
at::Tensor asymmetric_image() {
  at::Tensor pixels = at::empty({kHeight, kWidth, 3}, at::kByte);
  auto access = pixels.accessor<std::uint8_t, 3>();
  for (std::int64_t y = 0; y < kHeight; ++y) {
    for (std::int64_t x = 0; x < kWidth; ++x) {
      access[y][x][0] = static_cast<std::uint8_t>(7 * x);
      access[y][x][1] = static_cast<std::uint8_t>(11 * y);
      access[y][x][2] = static_cast<std::uint8_t>((x * y) % 256);
    }
  }
  return pixels;
}

// The picture a viewer shows for stored pixels and an EXIF orientation (EXIF 2.32, table 9).
at::Tensor as_viewed(const at::Tensor& stored, int orientation) {
  switch (orientation) {
    case 2: return at::flip(stored, {1});
    case 3: return at::flip(stored, {0, 1});
    case 4: return at::flip(stored, {0});
    case 5: return stored.transpose(0, 1);
    case 6: return at::flip(stored, {0}).transpose(0, 1);  // rotate 90 degrees clockwise
    case 7: return at::flip(stored, {0, 1}).transpose(0, 1);
    case 8: return at::flip(stored, {1}).transpose(0, 1);  // rotate 90 degrees counter-clockwise
    default: return stored;
  }
}

struct ExifEntry {
  std::uint16_t tag;
  std::uint16_t type;
  std::uint32_t count;
  std::uint32_t value;  // SHORT values sit in the first two bytes of the field
};

void put16(Bytes& out, std::uint32_t value, bool little) {
  if (little) {
    out.insert(out.end(), {std::uint8_t(value), std::uint8_t(value >> 8)});
  } else {
    out.insert(out.end(), {std::uint8_t(value >> 8), std::uint8_t(value)});
  }
}

void put32(Bytes& out, std::uint32_t value, bool little) {
  put16(out, little ? value & 0xFFFF : value >> 16, little);
  put16(out, little ? value >> 16 : value & 0xFFFF, little);
}

// A TIFF block: header, then IFD0 at `ifd_offset` holding `entries` (`declared_count` of them
// claimed when given).
Bytes tiff_block(bool little, const std::vector<ExifEntry>& entries, std::uint32_t ifd_offset = 8,
                 int declared_count = -1) {
  Bytes tiff = little ? Bytes{'I', 'I'} : Bytes{'M', 'M'};
  put16(tiff, 42, little);
  put32(tiff, ifd_offset, little);
  put16(tiff, declared_count >= 0 ? declared_count : entries.size(), little);
  for (const ExifEntry& entry : entries) {
    put16(tiff, entry.tag, little);
    put16(tiff, entry.type, little);
    put32(tiff, entry.count, little);
    if (entry.type == 3) {
      put16(tiff, entry.value, little);
      put16(tiff, 0, little);
    } else {
      put32(tiff, entry.value, little);
    }
  }
  put32(tiff, 0, little);  // no next IFD
  return tiff;
}

Bytes orientation_block(int orientation, bool little) {
  // A Make entry ("Cam" inline) first, so the reader has to walk the IFD.
  return tiff_block(little, {{0x010F, 2, 4, 0x43616D00}, {0x0112, 3, 1, std::uint32_t(orientation)}});
}

// `jpeg` with an APP1 "Exif\0\0" segment holding `tiff` right after SOI.
Bytes with_exif(const Bytes& jpeg, const Bytes& tiff) {
  const std::size_t length = 2 + 6 + tiff.size();
  Bytes app1 = {0xFF, 0xE1, std::uint8_t(length >> 8), std::uint8_t(length), 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  Bytes out = jpeg;
  out.insert(out.begin() + 2, app1.begin(), app1.end());
  return out;
}

fs::path write_bytes(const fs::path& file, const Bytes& bytes) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return file;
}

class ImageExif : public ::testing::TestWithParam<bool> {};

TEST_P(ImageExif, AppliesEveryOrientation) {
  const bool little = GetParam();
  TempDir dir;
  const Bytes plain = encode_jpeg(asymmetric_image(), 95);
  // The same entropy-coded data decodes to the same stored pixels: compare exactly.
  const at::Tensor stored = decode_image(plain, "plain.jpg").pixels;
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    const fs::path file =
        write_bytes(dir / "o.jpg", with_exif(plain, orientation_block(orientation, little)));
    const DecodedImage decoded = decode_image(file);
    const at::Tensor expected = as_viewed(stored, orientation);
    ASSERT_EQ(decoded.pixels.sizes(), expected.sizes());
    EXPECT_TRUE(at::equal(decoded.pixels, expected));
    EXPECT_TRUE(decoded.pixels.is_contiguous());

    const bool turned = orientation >= 5;
    EXPECT_EQ(decoded.info.orientation, orientation);
    EXPECT_EQ(decoded.info.width, turned ? kHeight : kWidth);
    EXPECT_EQ(decoded.info.height, turned ? kWidth : kHeight);
    EXPECT_EQ(decoded.info.raw_width, kWidth);
    EXPECT_EQ(decoded.info.raw_height, kHeight);

    const ImageInfo info = read_image_info(file);
    EXPECT_EQ(info.orientation, orientation);
    EXPECT_EQ(info.width, decoded.info.width);
    EXPECT_EQ(info.height, decoded.info.height);

    const DecodedImage as_stored = decode_image(file, /*apply_orientation=*/false);
    EXPECT_TRUE(at::equal(as_stored.pixels, stored));
    EXPECT_EQ(as_stored.info.orientation, orientation);  // info describes the file either way
  }
}

INSTANTIATE_TEST_SUITE_P(ByteOrders, ImageExif, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "II" : "MM"; });

TEST(ImageExifBlocks, TurnedImagesOwnTheirPixels) {
  // Reoriented images are decoded through a per-thread buffer: results must not share it.
  const Bytes plain = encode_jpeg(asymmetric_image());
  const at::Tensor first = decode_image(with_exif(plain, orientation_block(6, true)), "a.jpg").pixels;
  const at::Tensor kept = first.clone();
  const Bytes other = encode_jpeg(at::flip(asymmetric_image(), {0}).contiguous());
  decode_image(with_exif(other, orientation_block(8, true)), "b.jpg");
  decode_image(with_exif(other, orientation_block(3, true)), "c.jpg");
  EXPECT_TRUE(at::equal(first, kept));
}

TEST(ImageExifBlocks, LongTypedOrientationIsAccepted) {
  const Bytes plain = encode_jpeg(asymmetric_image());
  const Bytes jpeg = with_exif(plain, tiff_block(false, {{0x0112, 4, 1, 6}}));
  EXPECT_EQ(decode_image(jpeg, "long.jpg").info.orientation, 6);
}

TEST(ImageExifBlocks, MalformedBlocksMeanNoOrientation) {
  const Bytes plain = encode_jpeg(asymmetric_image());
  const at::Tensor stored = decode_image(plain, "plain.jpg").pixels;
  const std::vector<std::pair<std::string, Bytes>> cases = {
      {"ifd past the end", tiff_block(true, {{0x0112, 3, 1, 6}}, 5000)},
      {"ifd inside the header", tiff_block(true, {{0x0112, 3, 1, 6}}, 4)},
      {"ifd at the last byte", tiff_block(true, {}, 9)},
      {"more entries claimed than present", tiff_block(true, {{0x010F, 2, 4, 0}}, 8, 4000)},
      {"orientation 9", orientation_block(9, true)},
      {"orientation 0", orientation_block(0, false)},
      {"ascii typed", tiff_block(true, {{0x0112, 2, 2, 0x36}})},
      {"zero count", tiff_block(true, {{0x0112, 3, 0, 6}})},
      {"bad magic", Bytes{'I', 'I', 43, 0, 8, 0, 0, 0, 0, 0}},
      {"bad byte order", Bytes{'X', 'X', 0, 42, 0, 0, 0, 8, 0, 0}},
      {"too short", Bytes{'M', 'M', 0}},
      {"empty", Bytes{}},
  };
  for (const auto& [what, tiff] : cases) {
    SCOPED_TRACE(what);
    const DecodedImage decoded = decode_image(with_exif(plain, tiff), "bad_exif.jpg");
    EXPECT_EQ(decoded.info.orientation, 1);
    EXPECT_TRUE(at::equal(decoded.pixels, stored));
  }
  // The entry that fits is still read when the count claims more than the block holds.
  const Bytes partial = tiff_block(true, {{0x0112, 3, 1, 3}}, 8, 500);
  EXPECT_EQ(decode_image(with_exif(plain, partial), "partial.jpg").info.orientation, 3);
}

TEST(ImageExifBlocks, OnlyTheFirstExifBlockCounts) {
  const Bytes plain = encode_jpeg(asymmetric_image());
  const Bytes twice = with_exif(with_exif(plain, orientation_block(3, true)), orientation_block(6, true));
  EXPECT_EQ(decode_image(twice, "twice.jpg").info.orientation, 6);  // the outer one comes first
}

TEST(ImageExifBlocks, ExifSegmentCutByEndOfFileIsTruncation) {
  TempDir dir;
  const Bytes jpeg = with_exif(encode_jpeg(asymmetric_image()), orientation_block(6, true));
  const fs::path file = write_bytes(dir / "cut.jpg", Bytes(jpeg.begin(), jpeg.begin() + 20));
  try {
    read_image_info(file);
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr(file.string() + ": truncated JPEG"));
  }
}

}  // namespace
}  // namespace rtseg::sdk
