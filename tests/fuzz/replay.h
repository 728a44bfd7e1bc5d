#pragma once

// The replay build of a fuzz target (RTSEG_FUZZ_REPLAY_MAIN, no libFuzzer): replay_main.cpp
// runs LLVMFuzzerTestOneInput on every seed of a corpus folder, on every prefix of each seed
// (truncated files) and on seeded random mutations of it. Each target says how to mutate.

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace rtseg::fuzz {

using Bytes = std::vector<std::uint8_t>;

/// One mutation of a seed; defined by each target.
Bytes mutate(Bytes bytes, std::mt19937& random);

/// A generic binary mutator (bit flips, boundary bytes, inserts, deletes, duplicated runs),
/// for formats without a structure worth targeting.
Bytes mutate_binary(Bytes bytes, std::mt19937& random);

}  // namespace rtseg::fuzz
