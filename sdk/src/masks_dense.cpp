// Dense masks <-> run lengths (pycocotools' rleEncode / rleDecode).

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "masks_internal.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk::masks {
namespace {

// The transpose works on 8 x 8 byte blocks held in eight 64-bit words.
constexpr std::int64_t kBlock = 8;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kLittleEndian = true;
#else
constexpr bool kLittleEndian = false;  // the word tricks assume byte i = bits 8i..8i+7
#endif

// Every byte of `word` becomes 1 if it was non-zero, else 0 (the masks keep bits in their byte).
std::uint64_t bytes_to_flags(std::uint64_t word) {
  word = (word | (word >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  word = (word | (word >> 2)) & 0x0303030303030303ULL;
  return (word | (word >> 1)) & 0x0101010101010101ULL;
}

// Transposes the 8 x 8 bytes held in rows[0..7] (byte i of rows[r] = element (r, i)) by swapping
// ever larger sub-blocks: 1-byte elements within 2 x 2 blocks, then 2 x 2 blocks, then 4 x 4.
void transpose_block(std::uint64_t (&rows)[kBlock]) {
  for (int r = 0; r < 8; r += 2) {
    const std::uint64_t t = ((rows[r] >> 8) ^ rows[r + 1]) & 0x00ff00ff00ff00ffULL;
    rows[r + 1] ^= t;
    rows[r] ^= t << 8;
  }
  for (int r : {0, 1, 4, 5}) {
    const std::uint64_t t = ((rows[r] >> 16) ^ rows[r + 2]) & 0x0000ffff0000ffffULL;
    rows[r + 2] ^= t;
    rows[r] ^= t << 16;
  }
  for (int r = 0; r < 4; ++r) {
    const std::uint64_t t = ((rows[r] >> 32) ^ rows[r + 4]) & 0x00000000ffffffffULL;
    rows[r + 4] ^= t;
    rows[r] ^= t << 32;
  }
}

// column_major[x * height + y] = (row_major[y * width + x] != 0) for x in [x0, x1), y in [y0, y1).
void transpose_pixels(const std::uint8_t* row_major, std::int64_t height, std::int64_t width,
                      std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1,
                      std::uint8_t* column_major) {
  for (std::int64_t x = x0; x < x1; ++x) {
    std::uint8_t* out = column_major + x * height;
    for (std::int64_t y = y0; y < y1; ++y) out[y] = row_major[y * width + x] != 0;
  }
}

// column_major[x * height + y] = (row_major[y * width + x] != 0).
void to_column_major(const std::uint8_t* row_major, std::int64_t height, std::int64_t width,
                     std::uint8_t* column_major) {
  const std::int64_t block_height = kLittleEndian ? height / kBlock * kBlock : 0;
  const std::int64_t block_width = kLittleEndian ? width / kBlock * kBlock : 0;
  // Bands of 8 rows, each read left to right: eight sequential streams the prefetcher follows.
  // The column-major writes land in one cache line per column, which the next bands complete.
  for (std::int64_t by = 0; by < block_height; by += kBlock) {
    for (std::int64_t bx = 0; bx < block_width; bx += kBlock) {
      std::uint64_t rows[kBlock];
      for (int r = 0; r < kBlock; ++r) {
        std::memcpy(&rows[r], row_major + (by + r) * width + bx, sizeof(std::uint64_t));
        rows[r] = bytes_to_flags(rows[r]);
      }
      transpose_block(rows);
      for (int c = 0; c < kBlock; ++c) {
        std::memcpy(column_major + (bx + c) * height + by, &rows[c], sizeof(std::uint64_t));
      }
    }
  }
  // What the 8 x 8 blocks leave: the right strip (all rows) and the bottom strip.
  transpose_pixels(row_major, height, width, 0, height, block_width, width, column_major);
  transpose_pixels(row_major, height, width, block_height, height, 0, block_width, column_major);
}

}  // namespace

RunLengths encode(const at::Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2) {
    throw DataError(
        "masks::encode: expected a [H, W] mask, got a tensor of " +
        (mask.defined() ? std::to_string(mask.dim()) + " dimensions" : std::string("no data")));
  }
  at::Tensor bytes = mask;
  if (!bytes.device().is_cpu()) bytes = bytes.cpu();
  if (bytes.scalar_type() != at::kBool && bytes.scalar_type() != at::kByte) bytes = bytes.ne(0);
  bytes = bytes.contiguous();  // bool is stored as one 0/1 byte, so both read as uint8 below

  RunLengths rle;
  rle.height = bytes.size(0);
  rle.width = bytes.size(1);
  const std::uint64_t pixels = detail::pixel_count(rle.height, rle.width, "masks::encode");
  std::vector<std::uint8_t> column_major(pixels);
  to_column_major(static_cast<const std::uint8_t*>(bytes.data_ptr()), rle.height, rle.width,
                  column_major.data());

  // Runs alternate 0, 1, 0, ... starting with a (possibly empty) run of zeros; memchr finds the
  // end of each run quickly because the buffer holds only 0 and 1.
  const std::uint8_t* data = column_major.data();
  std::uint64_t start = 0;
  std::uint8_t value = 0;
  while (true) {
    const void* hit =
        pixels > start ? std::memchr(data + start, value ^ 1, pixels - start) : nullptr;
    const std::uint64_t end =
        hit ? static_cast<std::uint64_t>(static_cast<const std::uint8_t*>(hit) - data) : pixels;
    rle.counts.push_back(static_cast<std::uint32_t>(end - start));
    if (end == pixels) break;
    start = end;
    value ^= 1;
  }
  return rle;
}

at::Tensor decode(const RunLengths& rle) {
  detail::check_runs(rle, "masks::decode");
  const std::int64_t height = rle.height, width = rle.width;
  const auto pixels = static_cast<std::size_t>(height * width);
  at::Tensor mask = at::empty({height, width}, at::TensorOptions().dtype(at::kByte));
  if (pixels == 0) return mask;  // no storage to write (data_ptr may be null)
  std::uint8_t* out = static_cast<std::uint8_t*>(mask.data_ptr());
  // Fill with the majority value, then write the minority runs pixel by pixel, column by column.
  // Consecutive columns touch the same rows, whose cache lines stay hot, so no transposed copy is
  // needed and the work is at most half the image.
  const std::uint8_t minority = 2 * area(rle) <= pixels ? 1 : 0;
  std::memset(out, minority ^ 1, pixels);
  std::uint64_t start = 0;
  std::uint8_t value = 0;
  for (const std::uint32_t count : rle.counts) {
    if (value == minority && count > 0) {
      std::int64_t x = static_cast<std::int64_t>(start / static_cast<std::uint64_t>(height));
      std::int64_t y = static_cast<std::int64_t>(start % static_cast<std::uint64_t>(height));
      std::int64_t left = count;
      while (left > 0) {
        const std::int64_t in_column = std::min(left, height - y);
        std::uint8_t* pixel = out + y * width + x;
        for (std::int64_t i = 0; i < in_column; ++i, pixel += width) *pixel = minority;
        left -= in_column;
        y = 0;
        ++x;
      }
    }
    start += count;
    value ^= 1;
  }
  return mask;
}

}  // namespace rtseg::sdk::masks
