#pragma once

#include <cstdint>

namespace rtseg::sdk {

/// SplitMix64's finaliser: turns neighbouring numbers (a seed, an epoch, an image index) into
/// unrelated 64-bit seeds, so per-item random streams do not correlate. Used wherever rtseg
/// derives a deterministic seed from (seed, epoch, index).
constexpr std::uint64_t mix_seed(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace rtseg::sdk
