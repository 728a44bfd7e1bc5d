// main() of the replay build of every fuzz target (see replay.h).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "replay.h"

namespace rtseg::fuzz {

Bytes mutate_binary(Bytes bytes, std::mt19937& random) {
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

}  // namespace rtseg::fuzz

namespace {

constexpr int kMutationsPerSeed = 3000;

void replay(const rtseg::fuzz::Bytes& bytes) { LLVMFuzzerTestOneInput(bytes.data(), bytes.size()); }

}  // namespace

int main(int argc, char** argv) {
  using rtseg::fuzz::Bytes;
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
      for (std::size_t length = 0; length < bytes.size(); ++length) replay(Bytes(bytes.begin(), bytes.begin() + length));
      for (int i = 0; i < kMutationsPerSeed; ++i) replay(rtseg::fuzz::mutate(bytes, random));
      runs += 1 + bytes.size() + kMutationsPerSeed;
    }
  } catch (const std::exception& error) {
    // Targets catch the errors bad input is allowed to raise; anything else escaping is a bug.
    std::fprintf(stderr, "escaped exception: %s\n", error.what());
    return 1;
  }
  std::printf("%s: %zu inputs from %zu seeds, no crash\n", argv[0], runs, seeds.size());
  return 0;
}
