// Fuzz target: bytes as a PNG file, through rtseg::sdk::decode_image (seeds: corpus/png/).
//
// Random edits nearly always break a chunk CRC, and the decoder stops there. So for half of the
// inputs the target first rewrites the CRC of every complete chunk, letting mutations reach the
// chunk parsers, inflate and the unfiltering; the other half tests the CRC checks themselves.
//
// Every input must either decode to pixels that match the reported header or throw DataError;
// anything else (a crash, a hang, another exception, a sanitizer report) is a bug.
//
// libFuzzer: clang++ -fsanitize=fuzzer,address with the SDK's image_io*.cpp and errors.cpp,
// linked with -lturbojpeg -lspng -ltorch -ltorch_cpu -lc10; run
// `png_fuzzer -max_len=65536 tests/fuzz/corpus/png`.
// Without libFuzzer, RTSEG_FUZZ_REPLAY_MAIN builds a replayer: it runs every seed, every prefix
// of it (truncated files) and seeded random mutations.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace {

// The decoded tensor must have the shape the header promises.
void check_consistent(const rtseg::sdk::DecodedImage& image, bool apply_orientation) {
  const rtseg::sdk::ImageInfo& info = image.info;
  const std::int64_t height = apply_orientation ? info.height : info.raw_height;
  const std::int64_t width = apply_orientation ? info.width : info.raw_width;
  if (image.pixels.dim() != 3 || image.pixels.size(0) != height || image.pixels.size(1) != width ||
      image.pixels.size(2) != 3 || info.orientation < 1 || info.orientation > 8 ||
      info.width * info.height != info.raw_width * info.raw_height) {
    std::abort();
  }
}

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
  try {
    check_consistent(rtseg::sdk::decode_image(bytes, "fuzz.png", apply_orientation, 1 << 22),
                     apply_orientation);
  } catch (const rtseg::sdk::DataError&) {
    // Expected for bad input.
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace {

using Bytes = std::vector<std::uint8_t>;

void replay(const Bytes& bytes) { LLVMFuzzerTestOneInput(bytes.data(), bytes.size()); }

// Flips bits, writes boundary values, inserts, deletes and duplicates runs of bytes.
Bytes mutate(Bytes bytes, std::mt19937& random) {
  static const std::uint8_t kInteresting[] = {0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF};
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const std::size_t at = random() % bytes.size();
    switch (random() % 5) {
      case 0: bytes[at] ^= static_cast<std::uint8_t>(1u << (random() % 8)); break;
      case 1: bytes[at] = kInteresting[random() % sizeof(kInteresting)]; break;
      case 2: bytes.insert(bytes.begin() + at, static_cast<std::uint8_t>(random())); break;
      case 3: bytes.erase(bytes.begin() + at, bytes.begin() + std::min(bytes.size(), at + 1 + random() % 16)); break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 64, bytes.size() - at);
        const Bytes run(bytes.begin() + at, bytes.begin() + at + length);
        bytes.insert(bytes.begin() + random() % bytes.size(), run.begin(), run.end());
      }
    }
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) seeds.push_back(entry.path());
  std::sort(seeds.begin(), seeds.end());
  if (seeds.empty()) {
    std::fprintf(stderr, "no seeds in %s\n", argv[1]);
    return 1;
  }
  std::mt19937 random(12345);
  std::size_t runs = 0;
  try {
    for (const auto& seed : seeds) {
      std::ifstream in(seed, std::ios::binary);
      const Bytes bytes((std::istreambuf_iterator<char>(in)), {});
      replay(bytes);
      for (std::size_t length = 0; length < bytes.size(); ++length) {
        replay(Bytes(bytes.begin(), bytes.begin() + length));
      }
      for (int i = 0; i < 3000; ++i) replay(mutate(bytes, random));
      runs += 1 + bytes.size() + 3000;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "escaped exception: %s\n", error.what());
    return 1;
  }
  std::printf("%s: %zu inputs from %zu seeds, no crash\n", argv[0], runs, seeds.size());
  return 0;
}
#endif
