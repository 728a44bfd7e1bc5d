// Fuzz target: bytes as a JPEG file, through rtseg::sdk::decode_image (seeds: corpus/jpeg/).
//
// Every input must either decode to pixels that match the reported header or throw DataError;
// anything else (a crash, a hang, another exception, a sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] jpeg`. The replay build (ctest
// jpeg_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "image_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  const bool apply_orientation = size % 2 == 0;  // both orientation paths get exercised
  rtseg::fuzz::fuzz_decode_image(bytes, "fuzz.jpg", apply_orientation);
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include "replay.h"

rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  return mutate_binary(std::move(bytes), random);
}
#endif
