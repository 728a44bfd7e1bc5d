// pycocotools' compressed RLE string (rleToString / rleFrString) and checked uncompressed counts.
//
// Each value is written 5 bits at a time, least significant first, one character per chunk:
// '0' + chunk, plus 0x20 when more chunks follow. A value ends when the rest is pure sign
// extension of the chunk's bit 0x10, so it decodes as two's complement. Counts after the third
// (index > 2, strictly) are stored as the difference to the count two places earlier, which is
// small for the usual shapes (runs of similar length in neighbouring columns).

#include <string>

#include "masks_internal.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk::masks {
namespace {

constexpr char kFirstChar = '0';      // 48: chunk value 0
constexpr char kLastChar = '0' + 63;  // 111 ('o'): chunk 0x1f with the "more" bit
constexpr int kMoreBit = 0x20;
constexpr int kSignBit = 0x10;
// A delta between two 32-bit counts needs 34 bits with its sign: 7 chunks of 5 bits.
constexpr int kMaxChunks = 7;
constexpr std::size_t kQuoteLimit = 48;

// The string, shortened for an error message.
std::string quote(std::string_view text) {
  std::string shown(text.substr(0, kQuoteLimit));
  for (char& c : shown) {
    if (c < 32 || c > 126) c = '?';
  }
  return "\"" + shown + (text.size() > kQuoteLimit ? "...\"" : "\"");
}

[[noreturn]] void reject(std::string_view text, const std::string& problem) {
  throw DataError("masks::from_string: malformed COCO RLE string " + quote(text) + " (" +
                  std::to_string(text.size()) + " characters): " + problem);
}

std::string describe_char(char c) {
  const auto code = static_cast<unsigned>(static_cast<unsigned char>(c));
  std::string text = (c >= 32 && c <= 126) ? "'" + std::string(1, c) + "' " : std::string();
  return text + "(code " + std::to_string(code) + ")";
}

}  // namespace

std::string to_string(const RunLengths& rle) {
  std::string text;
  text.reserve(rle.counts.size() * 2);
  for (std::size_t i = 0; i < rle.counts.size(); ++i) {
    std::int64_t value = rle.counts[i];
    if (i > 2) value -= rle.counts[i - 2];
    bool more = true;
    while (more) {
      int chunk = static_cast<int>(value & 0x1f);
      value >>= 5;  // arithmetic shift: negative deltas stay negative (sign extension)
      more = (chunk & kSignBit) ? value != -1 : value != 0;
      if (more) chunk |= kMoreBit;
      text.push_back(static_cast<char>(kFirstChar + chunk));
    }
  }
  return text;
}

RunLengths from_string(std::string_view counts, std::int64_t height, std::int64_t width) {
  RunLengths rle;
  rle.height = height;
  rle.width = width;
  const std::uint64_t pixels = detail::pixel_count(height, width, "masks::from_string");
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos < counts.size()) {
    const std::size_t value_start = pos;
    std::int64_t value = 0;
    int chunks = 0;
    int chunk = 0;
    do {
      if (pos >= counts.size()) {
        reject(counts, "it ends inside the value that starts at position " +
                           std::to_string(value_start) +
                           " (its last character has the 'more' bit)");
      }
      const char c = counts[pos];
      if (c < kFirstChar || c > kLastChar) {
        reject(counts, "character " + describe_char(c) + " at position " + std::to_string(pos) +
                           " is outside '0'..'o'");
      }
      if (chunks == kMaxChunks) {
        reject(counts, "the value that starts at position " + std::to_string(value_start) +
                           " has more than " + std::to_string(kMaxChunks) +
                           " characters, too long for a 32-bit count");
      }
      chunk = c - kFirstChar;
      value |= static_cast<std::int64_t>(chunk & 0x1f) << (5 * chunks);
      ++chunks;
      ++pos;
    } while (chunk & kMoreBit);
    if (chunk & kSignBit) value -= std::int64_t{1} << (5 * chunks);  // two's complement

    const std::size_t index = rle.counts.size();
    if (index > 2) value += rle.counts[index - 2];
    if (value < 0 || value > std::int64_t{0xffffffff}) {
      reject(counts, "count " + std::to_string(index) + " (position " +
                         std::to_string(value_start) + ") decodes to " + std::to_string(value) +
                         ", outside the 32-bit unsigned range");
    }
    rle.counts.push_back(static_cast<std::uint32_t>(value));
    total += static_cast<std::uint64_t>(value);
  }
  if (total != pixels) {
    reject(counts, "its " + std::to_string(rle.counts.size()) + " counts add up to " +
                       std::to_string(total) + " pixels, but a " + std::to_string(height) + " x " +
                       std::to_string(width) + " mask has " + std::to_string(pixels));
  }
  return rle;
}

RunLengths from_counts(std::vector<std::uint32_t> counts, std::int64_t height, std::int64_t width) {
  RunLengths rle{height, width, std::move(counts)};
  detail::check_runs(rle, "masks::from_counts");
  return rle;
}

}  // namespace rtseg::sdk::masks
