// encode_png, encode_jpeg and write_image: extensions, atomic replacement, input checks.

#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "test_support.h"

namespace rtseg::sdk {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using rtseg::testing::TempDir;
using ::testing::HasSubstr;

// Every pixel different, so that a lossless round trip proves something.
at::Tensor test_pattern(std::int64_t height, std::int64_t width) {
  at::Tensor pixels = at::empty({height, width, 3}, at::kByte);
  auto access = pixels.accessor<std::uint8_t, 3>();
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      access[y][x][0] = static_cast<std::uint8_t>(13 * x);
      access[y][x][1] = static_cast<std::uint8_t>(29 * y);
      access[y][x][2] = static_cast<std::uint8_t>(x * y);
    }
  }
  return pixels;
}

Bytes slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> files_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ImageWrite, WriteImageByExtensionLeavesNoTempFile) {
  TempDir dir;
  const at::Tensor rgb = test_pattern(12, 20);
  write_image(dir / "a.png", rgb);
  write_image(dir / "b.JPG", rgb, 95);
  write_image(dir / "c.jpeg", rgb.select(2, 0).contiguous());
  EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"a.png", "b.JPG", "c.jpeg"}));
  EXPECT_TRUE(at::equal(decode_image(dir / "a.png").pixels, rgb));
  EXPECT_EQ(decode_image(dir / "b.JPG").info.format, "jpeg");
  EXPECT_EQ(slurp(dir / "a.png"), encode_png(rgb));
}

TEST(ImageWrite, WriteImageReplacesByRenameNotInPlace) {
  TempDir dir;
  const fs::path file = dir / "out.png";
  write_image(file, test_pattern(10, 10));
  const Bytes old_bytes = slurp(file);
  // A hard link keeps the old inode: an in-place rewrite would change what it shows.
  fs::create_hard_link(file, dir / "old_link.png");
  write_image(file, test_pattern(12, 14));
  EXPECT_EQ(slurp(dir / "old_link.png"), old_bytes);
  EXPECT_EQ(decode_image(file).info.width, 14);
  EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"old_link.png", "out.png"}));
}

TEST(ImageWrite, WriteImageFailuresLeaveNothingBehind) {
  TempDir dir;
  const at::Tensor rgb = test_pattern(4, 4);
  EXPECT_THROW(write_image(dir / "missing/folder/a.png", rgb), Error);
  try {
    write_image(dir / "a.bmp", rgb);
    ADD_FAILURE();
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("'.bmp' (use .png, .jpg or .jpeg)"));
  }
  EXPECT_THROW(write_image(dir / "f.png", rgb.to(at::kFloat)), Error);
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST(ImageWrite, EncodersRejectBadTensors) {
  const at::Tensor rgb = test_pattern(4, 4);
  auto message = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& error) {
      return error.what();
    }
    return "no error";
  };
  EXPECT_THAT(message([&] { encode_png(rgb.to(at::kFloat)); }), HasSubstr("must be uint8, got Float"));
  EXPECT_THAT(message([&] { encode_png(at::zeros({4, 4, 4}, at::kByte)); }),
              HasSubstr("must be [H, W, 3] RGB or [H, W] grey, got [4, 4, 4]"));
  EXPECT_THAT(message([&] { encode_jpeg(at::zeros({0, 4, 3}, at::kByte)); }), HasSubstr("empty"));
  EXPECT_THAT(message([&] { encode_jpeg(rgb, 0); }), HasSubstr("quality must be in 1..100, got 0"));
  EXPECT_THAT(message([&] { encode_png(at::Tensor()); }), HasSubstr("undefined"));
  // Non-contiguous input is fine: it is written in its logical order.
  const at::Tensor transposed = rgb.transpose(0, 1);
  EXPECT_TRUE(at::equal(decode_image(encode_png(transposed), "t.png").pixels, transposed));
}

}  // namespace
}  // namespace rtseg::sdk
