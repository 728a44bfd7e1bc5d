// Fuzz target: bytes as a PNG file, through rtseg::sdk::decode_image (seeds: corpus/png/).
//
// Random edits nearly always break a chunk CRC, and the decoder stops there. So for half of the
// inputs the target first rewrites the CRC of every complete chunk, letting mutations reach the
// chunk parsers, inflate and the unfiltering; the other half tests the CRC checks themselves.
//
// Every input must either decode to pixels that match the reported header or throw DataError;
// anything else (a crash, a hang, another exception, a sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] png`. The replay build (ctest
// png_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "image_target.h"

namespace {

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
      table[n] = c;
    }
    return table;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) crc = kTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// Rewrites the CRC of every complete chunk after the 8-byte signature.
void fix_chunk_crcs(std::vector<std::uint8_t>& bytes) {
  std::size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const std::uint8_t* p = bytes.data() + at;
    const std::size_t length = (std::size_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    if (length > bytes.size() - at - 12) return;
    const std::uint32_t crc = crc32(p + 4, 4 + length);
    for (int i = 0; i < 4; ++i) bytes[at + 8 + length + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
    at += 12 + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  const bool apply_orientation = size % 2 == 0;  // both orientation paths get exercised
  if (size / 2 % 2 == 0) fix_chunk_crcs(bytes);
  rtseg::fuzz::fuzz_decode_image(bytes, "fuzz.png", apply_orientation);
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include "replay.h"

rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  return mutate_binary(std::move(bytes), random);
}
#endif
