#pragma once

// Helpers for the dataset plugins' tests: images on disk, JPEGs with an EXIF orientation,
// build contexts and concurrent loading.

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/stack.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::testing {

/// uint8 [height, width, 3]: red = column * 10, green = row * 10, blue = seed.
inline at::Tensor gradient_image(std::int64_t height, std::int64_t width, std::int64_t seed = 0) {
  const at::Tensor columns =
      at::arange(width, at::kLong).mul(10).view({1, width}).expand({height, width});
  const at::Tensor rows =
      at::arange(height, at::kLong).mul(10).view({height, 1}).expand({height, width});
  const at::Tensor blue = at::full_like(columns, seed);
  return at::stack({columns, rows, blue}, 2).to(at::kByte).contiguous();
}

/// A JPEG of `pixels` with an EXIF APP1 segment that sets `orientation` (little-endian TIFF).
inline std::vector<std::uint8_t> jpeg_with_orientation(const at::Tensor& pixels, int orientation) {
  const std::vector<std::uint8_t> jpeg = sdk::encode_jpeg(pixels, 95);
  // clang-format off
  const std::vector<std::uint8_t> payload = {
      'E', 'x', 'i', 'f', 0, 0,                               // APP1 identifier
      'I', 'I', 0x2A, 0, 8, 0, 0, 0,                          // TIFF header, IFD at offset 8
      1, 0,                                                   // one entry
      0x12, 0x01, 3, 0, 1, 0, 0, 0,                           // tag 0x0112 SHORT x1
      static_cast<std::uint8_t>(orientation), 0, 0, 0,        // value
      0, 0, 0, 0};                                            // no next IFD
  // clang-format on
  const std::size_t length = payload.size() + 2;
  const std::uint8_t marker[] = {jpeg[0], jpeg[1],  // SOI, then the APP1 marker and its length
                                 0xFF, 0xE1, static_cast<std::uint8_t>(length >> 8),
                                 static_cast<std::uint8_t>(length & 0xFF)};
  std::vector<std::uint8_t> out(std::begin(marker), std::end(marker));
  out.reserve(out.size() + payload.size() + jpeg.size());
  for (std::uint8_t byte : payload) out.push_back(byte);
  for (std::size_t i = 2; i < jpeg.size(); ++i) out.push_back(jpeg[i]);
  return out;
}

inline void write_bytes(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::FILE* out = std::fopen(file.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), out);
  std::fclose(out);
}

/// sdk::write_image, creating the folders first.
inline void save_image(const std::filesystem::path& file, const at::Tensor& pixels) {
  std::filesystem::create_directories(file.parent_path());
  sdk::write_image(file, pixels);
}

/// Loads the first images of `split` from two threads at once, 200 times each, and returns how
/// many loads differed from `images[i]` or from `annotation_counts[i]` annotations (0 when the
/// dataset is safe to share between loader threads).
inline int concurrent_load_mismatches(const sdk::Dataset& dataset, const std::string& split,
                                      const std::vector<at::Tensor>& images,
                                      const std::vector<std::size_t>& annotation_counts) {
  std::atomic<int> wrong{0};
  const auto count = static_cast<int>(images.size());
  auto work = [&](int offset) {
    for (int i = 0; i < 200; ++i) {
      const int index = (i + offset) % count;
      const sdk::Sample sample = dataset.load(split, index);
      if (!at::equal(sample.image, images[index]) || sample.annotations.size() != annotation_counts[index]) ++wrong;
    }
  };
  std::thread first(work, 0), second(work, 1);
  first.join();
  second.join();
  return wrong.load();
}

inline sdk::BuildContext context_in(const std::filesystem::path& recipe_dir) {
  sdk::BuildContext context;
  context.recipe_dir = recipe_dir;
  return context;
}

}  // namespace rtseg::testing
