#include "rtseg/sdk/image_io.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::sdk {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using rtseg::testing::TempDir;
using ::testing::HasSubstr;

// A smooth, asymmetric RGB picture: JPEG keeps it well, and any flip or transpose shows.
at::Tensor test_pattern(std::int64_t height, std::int64_t width) {
  at::Tensor pixels = at::empty({height, width, 3}, at::kByte);
  auto access = pixels.accessor<std::uint8_t, 3>();
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      access[y][x][0] = static_cast<std::uint8_t>(255 * x / std::max<std::int64_t>(width - 1, 1));
      access[y][x][1] = static_cast<std::uint8_t>(255 * y / std::max<std::int64_t>(height - 1, 1));
      access[y][x][2] = static_cast<std::uint8_t>(128 + 100 * std::sin((x + 2.0 * y) / 9.0));
    }
  }
  return pixels;
}

double psnr(const at::Tensor& a, const at::Tensor& b) {
  const double mse = a.to(at::kFloat).sub(b.to(at::kFloat)).pow(2).mean().item<double>();
  return mse == 0 ? 1e9 : 10 * std::log10(255.0 * 255.0 / mse);
}

fs::path write_bytes(const fs::path& file, const Bytes& bytes) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return file;
}

// Offset of the first marker `code` (0xFF code) in a JPEG written by encode_jpeg.
std::size_t marker_offset(const Bytes& jpeg, std::uint8_t code) {
  for (std::size_t i = 0; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == code) return i;
  }
  return std::string::npos;
}

// decode_image(file) throws a DataError whose message names the file and holds `reason`.
void expect_decode_error(const fs::path& file, const std::string& reason,
                         std::int64_t max_pixels = 1LL << 28) {
  try {
    decode_image(file, true, max_pixels);
    ADD_FAILURE() << file << " decoded";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr(file.string() + ": ")) << error.what();
    EXPECT_THAT(error.what(), HasSubstr(reason));
  }
}

TEST(ImageIo, PngRoundTripIsExactForRgbAndGrey) {
  const at::Tensor rgb = test_pattern(23, 37);
  const DecodedImage decoded = decode_image(encode_png(rgb), "rgb.png");
  EXPECT_EQ(decoded.pixels.sizes(), rgb.sizes());
  EXPECT_EQ(decoded.pixels.scalar_type(), at::kByte);
  EXPECT_TRUE(decoded.pixels.is_contiguous());
  EXPECT_TRUE(at::equal(decoded.pixels, rgb));
  EXPECT_EQ(decoded.info.format, "png");
  EXPECT_EQ(decoded.info.width, 37);
  EXPECT_EQ(decoded.info.height, 23);
  EXPECT_EQ(decoded.info.orientation, 1);

  const at::Tensor grey = rgb.select(2, 2).contiguous();
  const at::Tensor expanded = decode_image(encode_png(grey), "grey.png").pixels;
  ASSERT_EQ(expanded.sizes(), rgb.sizes());
  for (int channel = 0; channel < 3; ++channel) {
    EXPECT_TRUE(at::equal(expanded.select(2, channel), grey)) << channel;
  }
}

TEST(ImageIo, JpegRoundTripStaysCloseForRgbAndGrey) {
  const at::Tensor rgb = test_pattern(64, 96);
  const Bytes good = encode_jpeg(rgb, 95);
  const DecodedImage decoded = decode_image(good, "rgb.jpg");
  EXPECT_EQ(decoded.info.format, "jpeg");
  ASSERT_EQ(decoded.pixels.sizes(), rgb.sizes());
  EXPECT_GT(psnr(decoded.pixels, rgb), 35.0);
  const Bytes rough = encode_jpeg(rgb, 20);
  EXPECT_LT(rough.size(), good.size());
  EXPECT_LT(psnr(decode_image(rough, "rough.jpg").pixels, rgb), psnr(decoded.pixels, rgb));

  const at::Tensor grey = rgb.select(2, 2).contiguous();
  const at::Tensor expanded = decode_image(encode_jpeg(grey, 95), "grey.jpg").pixels;
  ASSERT_EQ(expanded.sizes(), rgb.sizes());
  EXPECT_GT(psnr(expanded.select(2, 0), grey), 40.0);
  EXPECT_TRUE(at::equal(expanded.select(2, 0), expanded.select(2, 1)));
  EXPECT_TRUE(at::equal(expanded.select(2, 0), expanded.select(2, 2)));
}

TEST(ImageIo, RecognisesFormatByContentNotExtension) {
  TempDir dir;
  const at::Tensor rgb = test_pattern(8, 8);
  EXPECT_EQ(decode_image(write_bytes(dir / "really_png.jpg", encode_png(rgb))).info.format, "png");
  EXPECT_EQ(decode_image(write_bytes(dir / "really_jpeg.png", encode_jpeg(rgb))).info.format, "jpeg");
}

TEST(ImageIo, ReadImageInfoAgreesWithDecode) {
  TempDir dir;
  const at::Tensor rgb = test_pattern(30, 50);
  for (const char* name : {"a.png", "a.jpg"}) {
    const fs::path file = dir / name;
    write_image(file, rgb);
    const ImageInfo info = read_image_info(file);
    const DecodedImage decoded = decode_image(file);
    EXPECT_EQ(info.width, decoded.info.width) << name;
    EXPECT_EQ(info.height, decoded.info.height);
    EXPECT_EQ(info.raw_width, 50);
    EXPECT_EQ(info.raw_height, 30);
    EXPECT_EQ(info.format, decoded.info.format);
    EXPECT_EQ(decoded.pixels.size(0), info.height);
    EXPECT_EQ(decoded.pixels.size(1), info.width);
  }
}

TEST(ImageIo, ReadImageInfoFindsTheFrameBehindLargeMetadata) {
  // Two 60 KB APP2 segments (as ICC profiles are) push the frame header past the first read.
  TempDir dir;
  Bytes jpeg = encode_jpeg(test_pattern(20, 40));
  Bytes app2 = {0xFF, 0xE2, 0xEA, 0x60};  // length 60000
  app2.resize(2 + 60000, 0x41);
  for (int i = 0; i < 2; ++i) jpeg.insert(jpeg.begin() + 2, app2.begin(), app2.end());
  const fs::path file = write_bytes(dir / "icc.jpg", jpeg);
  const ImageInfo info = read_image_info(file);
  EXPECT_EQ(info.width, 40);
  EXPECT_EQ(info.height, 20);
  EXPECT_EQ(decode_image(file).pixels.size(1), 40);
}

TEST(ImageIo, DecodesCmykJpegToRgb) {
  // tests/fuzz/corpus/jpeg/cmyk.jpg: 16 x 8, an Adobe (inverted) CMYK JPEG whose left half holds
  // (C, M, Y, K) = (255, 128, 0, 255) and right half (0, 255, 255, 128), as stored.
  const fs::path file = fs::path(RTSEG_SOURCE_DIR) / "tests/fuzz/corpus/jpeg/cmyk.jpg";
  const DecodedImage decoded = decode_image(file);
  ASSERT_EQ(decoded.pixels.sizes(), (at::IntArrayRef{8, 16, 3}));
  const auto pixel = [&](int x, int channel) { return int(decoded.pixels[4][x][channel].item<std::uint8_t>()); };
  // Inverted inks: channel = stored ink * stored K / 255.
  EXPECT_NEAR(pixel(2, 0), 255, 3);
  EXPECT_NEAR(pixel(2, 1), 128, 3);
  EXPECT_NEAR(pixel(2, 2), 0, 3);
  EXPECT_NEAR(pixel(13, 0), 0, 3);
  EXPECT_NEAR(pixel(13, 1), 128, 3);
  EXPECT_NEAR(pixel(13, 2), 128, 3);
}

TEST(ImageIo, EveryFuzzSeedDecodesAndAgreesWithItsInfo) {
  for (const char* folder : {"tests/fuzz/corpus/jpeg", "tests/fuzz/corpus/png"}) {
    int seeds = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(RTSEG_SOURCE_DIR) / folder)) {
      SCOPED_TRACE(entry.path().string());
      const DecodedImage decoded = decode_image(entry.path());
      const ImageInfo info = read_image_info(entry.path());
      EXPECT_EQ(decoded.pixels.size(0), info.height);
      EXPECT_EQ(decoded.pixels.size(1), info.width);
      EXPECT_EQ(decoded.info.orientation, info.orientation);
      EXPECT_LT(fs::file_size(entry.path()), 2048u);
      ++seeds;
    }
    EXPECT_GE(seeds, 3) << folder;
  }
}

TEST(ImageIo, MissingEmptyAndForeignFilesAreDataErrors) {
  TempDir dir;
  expect_decode_error(dir / "images/none.jpg", "missing file");
  expect_decode_error(write_bytes(dir / "empty.jpg", {}), "empty file");
  expect_decode_error(write_bytes(dir / "x.png", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}),
                      "not a JPEG or PNG file (starts with 'GIF8', looks like GIF)");
  expect_decode_error(write_bytes(dir / "x.jpg", {'B', 'M', 0x36, 0, 0, 0, 0, 0}),
                      "not a JPEG or PNG file (starts with 'BM6\\x00', looks like BMP)");
  expect_decode_error(write_bytes(dir / "two.jpg", {0xFF, 0xD8}), "truncated JPEG");
  fs::create_directories(dir / "folder.jpg");
  expect_decode_error(dir / "folder.jpg", "is a directory");
  EXPECT_THROW(read_image_info(dir / "none.png"), DataError);
  try {
    decode_image(Bytes{'G', 'I', 'F', '8', '7', 'a'}, "memory/blob.gif");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("memory/blob.gif: not a JPEG or PNG file"));
  }
}

TEST(ImageIo, TruncatedJpegIsRefusedNotHalfGrey) {
  TempDir dir;
  const Bytes jpeg = encode_jpeg(test_pattern(64, 64));
  const std::size_t scan = marker_offset(jpeg, 0xDA);
  ASSERT_NE(scan, std::string::npos);
  fs::create_directories(dir / "images");
  // Cuts: only the end-of-image marker lost (all pixel data present: still refused, as
  // libjpeg-turbo warns), inside the scan (late, middle, just after its header), inside the
  // tables, inside APP0.
  for (const std::size_t keep : {jpeg.size() - 2, jpeg.size() - 40, (jpeg.size() + scan) / 2,
                                 scan + 20, scan - 5, std::size_t{10}}) {
    SCOPED_TRACE(keep);
    const fs::path file = write_bytes(dir / "images/a.jpg", Bytes(jpeg.begin(), jpeg.begin() + keep));
    expect_decode_error(file, "truncated JPEG (premature end of data)");
  }
  // Header only: read_image_info still answers when the frame header is there.
  const fs::path head = write_bytes(dir / "head.jpg", Bytes(jpeg.begin(), jpeg.begin() + scan + 20));
  EXPECT_EQ(read_image_info(head).width, 64);
  expect_decode_error(head, "truncated JPEG");
}

TEST(ImageIo, CorruptJpegIsADataError) {
  TempDir dir;
  const Bytes jpeg = encode_jpeg(test_pattern(64, 64));
  const std::size_t frame = marker_offset(jpeg, 0xC0);
  ASSERT_NE(frame, std::string::npos);

  Bytes twelve_bit = jpeg;
  twelve_bit[frame + 4] = 12;
  expect_decode_error(write_bytes(dir / "twelve.jpg", twelve_bit), "unsupported JPEG (12-bit samples)");

  Bytes marker_in_scan = jpeg;  // an EOI marker in the middle of the entropy-coded data
  marker_in_scan[jpeg.size() / 2 + 100] = 0xFF;
  marker_in_scan[jpeg.size() / 2 + 101] = 0xD9;
  expect_decode_error(write_bytes(dir / "marker.jpg", marker_in_scan), "corrupt JPEG (");

  Bytes bad_length = jpeg;  // the segment after SOI claims a length of 1
  bad_length[4] = 0;
  bad_length[5] = 1;
  expect_decode_error(write_bytes(dir / "length.jpg", bad_length), "corrupt JPEG (segment length 1");

  Bytes no_frame(jpeg.begin(), jpeg.begin() + 2);  // SOI then straight to the scan
  no_frame.insert(no_frame.end(), jpeg.begin() + marker_offset(jpeg, 0xDA), jpeg.end());
  expect_decode_error(write_bytes(dir / "noframe.jpg", no_frame), "image data before the frame header");
}

TEST(ImageIo, ForgedHugeSizeIsRefusedBeforeDecoding) {
  TempDir dir;
  Bytes jpeg = encode_jpeg(test_pattern(16, 16));
  const std::size_t frame = marker_offset(jpeg, 0xC0);
  for (const std::size_t at : {frame + 5, frame + 7}) {  // height, width: 65000
    jpeg[at] = 0xFD;
    jpeg[at + 1] = 0xE8;
  }
  const fs::path file = write_bytes(dir / "huge.jpg", jpeg);
  expect_decode_error(file, "image too large (65000 x 65000 pixels > max_pixels = 268435456)");
  EXPECT_EQ(read_image_info(file).width, 65000);  // the header is what it is

  const fs::path small = dir / "small.png";
  write_image(small, test_pattern(30, 40));
  expect_decode_error(small, "image too large (40 x 30 pixels > max_pixels = 1000)", 1000);
  EXPECT_EQ(decode_image(small, true, 1200).pixels.size(1), 40);
}

TEST(ImageIo, DecodesFromManyThreadsAtOnce) {
  const at::Tensor rgb = test_pattern(48, 80);
  const Bytes jpeg = encode_jpeg(rgb);
  const Bytes png = encode_png(rgb);
  Bytes truncated(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  const at::Tensor expected_jpeg = decode_image(jpeg, "a.jpg").pixels;
  // The same JPEG turned by EXIF orientation 6 (big-endian TIFF, IFD0 with one entry).
  Bytes turned = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0,
                  0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  // Then the JPEG after its SOI marker (resize + copy: GCC 12 misreads insert's bounds here).
  const std::size_t header = turned.size();
  turned.resize(header + jpeg.size() - 2);
  std::copy(jpeg.begin() + 2, jpeg.end(), turned.begin() + static_cast<std::ptrdiff_t>(header));
  const at::Tensor expected_turned = decode_image(turned, "turned.jpg").pixels;
  ASSERT_EQ(expected_turned.sizes(), (at::IntArrayRef{80, 48, 3}));
  std::vector<int> failures(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!at::equal(decode_image(jpeg, "a.jpg").pixels, expected_jpeg)) ++failures[t];
        if (!at::equal(decode_image(png, "a.png").pixels, rgb)) ++failures[t];
        if (!at::equal(decode_image(turned, "turned.jpg").pixels, expected_turned)) ++failures[t];
        try {  // an error must not poison the thread's decoder
          decode_image(truncated, "t.jpg");
          ++failures[t];
        } catch (const DataError&) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(8, 0));
}

}  // namespace
}  // namespace rtseg::sdk
