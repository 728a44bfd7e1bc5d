// PNG variants written by hand (every colour type and bit depth, Adam7, eXIf, damage), so that
// the decoder is checked against files no encoder of ours produced.

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
using ::testing::HasSubstr;

enum ColorType { kGrey = 0, kRgb = 2, kPalette = 3, kGreyAlpha = 4, kRgba = 6 };

int channels_of(int color_type) {
  switch (color_type) {
    case kRgb: return 3;
    case kGreyAlpha: return 2;
    case kRgba: return 4;
    default: return 1;
  }
}

std::uint32_t crc32(const Bytes& bytes, std::size_t begin) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = begin; i < bytes.size(); ++i) {
    crc ^= bytes[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32(Bytes& out, std::uint32_t value) {
  out.insert(out.end(), {std::uint8_t(value >> 24), std::uint8_t(value >> 16), std::uint8_t(value >> 8),
                         std::uint8_t(value)});
}

void add_chunk(Bytes& png, const char* type, const Bytes& data) {
  put32(png, static_cast<std::uint32_t>(data.size()));
  const std::size_t typed = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32(png, crc32(png, typed));
}

// zlib stream of stored (uncompressed) deflate blocks: no compressor needed.
Bytes zlib_stored(const Bytes& raw) {
  Bytes out = {0x78, 0x01};
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(raw.size() - at, 65535);
    out.push_back(at + n == raw.size() ? 1 : 0);
    out.insert(out.end(), {std::uint8_t(n), std::uint8_t(n >> 8), std::uint8_t(~n), std::uint8_t(~n >> 8)});
    out.insert(out.end(), raw.begin() + at, raw.begin() + at + n);
    at += n;
  } while (at < raw.size());
  std::uint32_t a = 1, b = 0;
  for (const std::uint8_t byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  put32(out, (b << 16) | a);
  return out;
}

struct PngSpec {
  std::uint32_t width = 13;
  std::uint32_t height = 7;
  int bit_depth = 8;
  int color_type = kRgb;
  bool interlaced = false;
  Bytes exif;  // eXIf chunk contents, none when empty
  std::size_t text_bytes = 0;  // a tEXt chunk this long before eXIf, none when 0
};

// The sample of channel `c` at (x, y): deterministic, using the whole range of the bit depth.
std::uint32_t sample(const PngSpec& spec, std::uint32_t x, std::uint32_t y, int c) {
  const std::uint32_t max = (1u << spec.bit_depth) - 1;
  if (spec.color_type == kPalette) return (x + 3 * y) % std::min<std::uint32_t>(max + 1, 5);
  return (x * 2654435761u + y * 40503u + c * 977u) % (max + 1);
}

// Five colours, or as many as the bit depth can index (the format allows no more).
Bytes palette(int bit_depth) {
  Bytes colours = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50};
  colours.resize(3 * std::min(5, 1 << bit_depth));
  return colours;
}

// Filter-type-0 scanlines of the pixels at (x0 + i * dx, y0 + j * dy).
void add_scanlines(const PngSpec& spec, std::uint32_t x0, std::uint32_t y0, std::uint32_t dx,
                   std::uint32_t dy, Bytes& raw) {
  const int channels = channels_of(spec.color_type);
  for (std::uint32_t y = y0; y < spec.height; y += dy) {
    if (x0 >= spec.width) return;
    raw.push_back(0);
    std::uint32_t bits = 0;
    int used = 0;
    for (std::uint32_t x = x0; x < spec.width; x += dx) {
      for (int c = 0; c < channels; ++c) {
        const std::uint32_t value = sample(spec, x, y, c);
        if (spec.bit_depth == 16) {
          raw.insert(raw.end(), {std::uint8_t(value >> 8), std::uint8_t(value)});
        } else if (spec.bit_depth == 8) {
          raw.push_back(std::uint8_t(value));
        } else {
          bits = (bits << spec.bit_depth) | value;
          used += spec.bit_depth;
          if (used == 8) {
            raw.push_back(std::uint8_t(bits));
            bits = 0;
            used = 0;
          }
        }
      }
    }
    if (used > 0) raw.push_back(std::uint8_t(bits << (8 - used)));
  }
}

Bytes make_png(const PngSpec& spec) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes header;
  put32(header, spec.width);
  put32(header, spec.height);
  header.insert(header.end(), {std::uint8_t(spec.bit_depth), std::uint8_t(spec.color_type), 0, 0,
                               std::uint8_t(spec.interlaced)});
  add_chunk(png, "IHDR", header);
  if (spec.text_bytes > 0) {
    Bytes text = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0};
    text.resize(spec.text_bytes, 'x');
    add_chunk(png, "tEXt", text);
  }
  if (!spec.exif.empty()) add_chunk(png, "eXIf", spec.exif);
  if (spec.color_type == kPalette) {
    add_chunk(png, "PLTE", palette(spec.bit_depth));
    add_chunk(png, "tRNS", {0, 128});  // transparency is dropped, the colours stay
  }
  Bytes raw;
  if (!spec.interlaced) {
    add_scanlines(spec, 0, 0, 1, 1, raw);
  } else {
    constexpr std::uint32_t kAdam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                            {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    for (const auto& pass : kAdam7) add_scanlines(spec, pass[0], pass[1], pass[2], pass[3], raw);
  }
  const Bytes data = zlib_stored(raw);
  const std::size_t half = data.size() / 2;  // two IDAT chunks: the stream spans chunks
  add_chunk(png, "IDAT", Bytes(data.begin(), data.begin() + half));
  add_chunk(png, "IDAT", Bytes(data.begin() + half, data.end()));
  add_chunk(png, "IEND", {});
  return png;
}

// What decode_image must return: 8-bit RGB, grey replicated, alpha dropped, 16-bit samples
// reduced to their high byte, low bit depths scaled to 0..255.
at::Tensor expected_rgb(const PngSpec& spec) {
  at::Tensor pixels = at::empty({spec.height, spec.width, 3}, at::kByte);
  auto access = pixels.accessor<std::uint8_t, 3>();
  const std::uint32_t max = (1u << spec.bit_depth) - 1;
  auto to8 = [&](std::uint32_t value) {
    return std::uint8_t(spec.bit_depth == 16 ? value >> 8 : value * 255 / max);
  };
  const Bytes colours = palette(spec.bit_depth);
  for (std::uint32_t y = 0; y < spec.height; ++y) {
    for (std::uint32_t x = 0; x < spec.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        std::uint8_t value = 0;
        if (spec.color_type == kPalette) {
          value = colours[3 * sample(spec, x, y, 0) + c];
        } else if (spec.color_type == kGrey || spec.color_type == kGreyAlpha) {
          value = to8(sample(spec, x, y, 0));
        } else {
          value = to8(sample(spec, x, y, c));
        }
        access[y][x][c] = value;
      }
    }
  }
  return pixels;
}

fs::path write_bytes(const fs::path& file, const Bytes& bytes) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return file;
}

void expect_decode_error(const fs::path& file, const std::string& reason) {
  try {
    decode_image(file);
    ADD_FAILURE() << file << " decoded";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr(file.string() + ": " + reason));
  }
}

TEST(ImagePng, DecodesEveryColourTypeAndBitDepthPlainAndInterlaced) {
  const std::vector<std::pair<int, std::vector<int>>> kinds = {
      {kGrey, {1, 2, 4, 8, 16}}, {kRgb, {8, 16}},       {kPalette, {1, 2, 4, 8}},
      {kGreyAlpha, {8, 16}},     {kRgba, {8, 16}},
  };
  TempDir dir;
  int checked = 0;
  for (const auto& [color_type, depths] : kinds) {
    for (const int depth : depths) {
      for (const bool interlaced : {false, true}) {
        // 1 x 1 and 3 x 2 leave some Adam7 passes empty; 13 x 7 cuts every pass short.
        for (const auto& [width, height] : std::vector<std::pair<int, int>>{{13, 7}, {1, 1}, {3, 2}}) {
          PngSpec spec;
          spec.width = width;
          spec.height = height;
          spec.bit_depth = depth;
          spec.color_type = color_type;
          spec.interlaced = interlaced;
          SCOPED_TRACE("colour type " + std::to_string(color_type) + ", " + std::to_string(depth) +
                       " bit, " + (interlaced ? "Adam7, " : "") + std::to_string(width) + " x " +
                       std::to_string(height));
          const fs::path file = write_bytes(dir / "v.png", make_png(spec));
          DecodedImage decoded;
          ASSERT_NO_THROW(decoded = decode_image(file));
          EXPECT_TRUE(at::equal(decoded.pixels, expected_rgb(spec)));
          const ImageInfo info = read_image_info(file);
          EXPECT_EQ(info.width, width);
          EXPECT_EQ(info.height, height);
          EXPECT_EQ(decoded.info.width, width);
          EXPECT_EQ(info.format, "png");
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 15 * 2 * 3);
}

TEST(ImagePng, AppliesTheOrientationOfAnExifChunk) {
  PngSpec spec;
  // Little-endian TIFF: IFD0 with one entry, orientation 8 (rotate 90 degrees counter-clockwise).
  spec.exif = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
  TempDir dir;
  const fs::path file = write_bytes(dir / "turned.png", make_png(spec));
  const DecodedImage decoded = decode_image(file);
  EXPECT_EQ(decoded.info.orientation, 8);
  EXPECT_EQ(decoded.info.width, 7);
  EXPECT_EQ(decoded.info.height, 13);
  EXPECT_TRUE(at::equal(decoded.pixels, at::flip(expected_rgb(spec), {1}).transpose(0, 1)));
  EXPECT_EQ(read_image_info(file).orientation, 8);
  EXPECT_EQ(read_image_info(file).width, 7);
  EXPECT_TRUE(at::equal(decode_image(file, false).pixels, expected_rgb(spec)));
}

TEST(ImagePng, ReadImageInfoFindsExifBehindLargeChunks) {
  PngSpec spec;
  spec.exif = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 5, 0, 0, 0, 0, 0, 0};
  spec.text_bytes = 200000;  // well past the first read of read_image_info
  TempDir dir;
  const fs::path file = write_bytes(dir / "text.png", make_png(spec));
  const ImageInfo info = read_image_info(file);
  EXPECT_EQ(info.orientation, 5);
  EXPECT_EQ(info.width, 7);
  EXPECT_EQ(info.height, 13);
  EXPECT_TRUE(at::equal(decode_image(file).pixels, expected_rgb(spec).transpose(0, 1)));
}

TEST(ImagePng, TruncatedPngIsRefused) {
  TempDir dir;
  PngSpec spec;
  spec.width = 40;
  spec.height = 30;
  const Bytes png = make_png(spec);
  for (const std::size_t keep : {png.size() / 2, std::size_t{60}, std::size_t{20}, std::size_t{5}}) {
    SCOPED_TRACE(keep);
    expect_decode_error(write_bytes(dir / "cut.png", Bytes(png.begin(), png.begin() + keep)),
                        "truncated PNG (premature end of data)");
  }
}

TEST(ImagePng, CorruptPngIsADataError) {
  TempDir dir;
  const Bytes png = make_png(PngSpec{});
  Bytes bad_crc = png;
  bad_crc[29] ^= 0xFF;  // IHDR's CRC
  expect_decode_error(write_bytes(dir / "crc.png", bad_crc), "corrupt PNG (");

  Bytes bad_pixels = png;
  bad_pixels[png.size() - 30] ^= 0x55;  // inside IDAT: its CRC no longer matches
  expect_decode_error(write_bytes(dir / "idat.png", bad_pixels), "corrupt PNG (");

  PngSpec odd_depth;
  odd_depth.bit_depth = 3;
  expect_decode_error(write_bytes(dir / "depth.png", make_png(odd_depth)), "unsupported or corrupt PNG (");
}

TEST(ImagePng, ForgedHugeSizeIsRefusedBeforeDecoding) {
  TempDir dir;
  PngSpec spec;
  spec.width = 100000;
  spec.height = 100000;
  // Only the header matters: the image data would be far too short anyway.
  Bytes png = make_png(PngSpec{});
  Bytes forged(png.begin(), png.begin() + 8);
  Bytes header;
  put32(header, spec.width);
  put32(header, spec.height);
  header.insert(header.end(), {8, kRgb, 0, 0, 0});
  add_chunk(forged, "IHDR", header);
  forged.insert(forged.end(), png.begin() + 33, png.end());
  const fs::path file = write_bytes(dir / "huge.png", forged);
  expect_decode_error(file, "image too large (100000 x 100000 pixels > max_pixels = 268435456)");
  EXPECT_EQ(read_image_info(file).width, 100000);
  try {  // a side past max_pixels trips spng's own limit first
    decode_image(forged, "mem.png", true, 50000);
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("mem.png: image too large (100000 x 100000 pixels > max_pixels = 50000)"));
  }
}

}  // namespace
}  // namespace rtseg::sdk
