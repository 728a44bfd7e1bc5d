// Fuzz target: bytes as a .safetensors file (weights, training states), through
// rtseg::sdk::SafetensorsFile: the header's validation, then every tensor read whole.
//
// Every input must either open -- and then every listed tensor reads, with as many bytes as its
// shape and type say -- or throw rtseg::sdk::Error (DataError); anything else (a crash, another
// exception, a read outside the mapping, a sanitizer report) is a bug. The bytes go through an
// in-memory file (memfd), as the reader maps a file.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] safetensors`. The replay build (ctest
// safetensors_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// One in-memory file for every input of the process.
int memory_file() {
  static const int fd = ::memfd_create("safetensors_fuzz", 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memory_file();
  require(fd >= 0 && ::ftruncate(fd, 0) == 0);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
  try {
    const auto file = rtseg::sdk::SafetensorsFile::open("/proc/self/fd/" + std::to_string(fd));
    for (const std::string& name : file.names()) {
      const at::Tensor tensor = file.get(name);
      // Read every byte (the sanitizers check they lie inside the mapping).
      const auto* bytes = static_cast<const std::uint8_t*>(tensor.data_ptr());
      unsigned sum = 0;
      for (std::size_t i = 0; i < tensor.nbytes(); ++i) sum += bytes[i];
      require(tensor.nbytes() <= size);
      (void)sum;
    }
    std::size_t metadata = 0;
    for (const auto& [key, value] : file.metadata()) metadata += key.size() + value.size();
    require(metadata <= size);
  } catch (const rtseg::sdk::Error&) {
    // Expected for bad input.
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include "replay.h"

rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  return mutate_binary(std::move(bytes), random);
}
#endif
