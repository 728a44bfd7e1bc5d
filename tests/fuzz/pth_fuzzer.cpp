// Fuzz target: PyTorch checkpoint files (.pth, zip and legacy formats) through
// pytorch::read_torch_bytes -- the zip reader and the restricted unpickler -- and
// rfdetr::checkpoint_from (seeds: corpus/pth/, written by torch.save).
//
// Every input must either throw sdk::DataError or give a graph whose tensors all lie inside their
// storages: this target reads every byte each tensor reaches (so that ASan sees an out-of-bounds
// view), and converts the saved object to JSON and repr. Every DataError of the readers names the
// file first. Anything else (a crash, another exception, a sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] pth`. The replay build (ctest
// pth_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rtseg/framework/pytorch/pickle.h"
#include "rtseg/framework/pytorch/torch_file.h"
#include "rtseg/framework/rfdetr/checkpoint.h"
#include "rtseg/sdk/errors.h"

namespace {

namespace pytorch = rtseg::framework::pytorch;

void require(bool condition) {
  if (!condition) std::abort();
}

// Sums the bytes from the tensor's first element to the last one it reaches.
std::uint64_t touch(const at::Tensor& tensor) {
  if (tensor.numel() == 0) return 0;
  const auto item = static_cast<std::int64_t>(tensor.element_size());
  std::int64_t last = tensor.storage_offset();
  for (std::int64_t d = 0; d < tensor.dim(); ++d) last += (tensor.size(d) - 1) * tensor.stride(d);
  require(last >= tensor.storage_offset());
  require(static_cast<std::uint64_t>((last + 1) * item) <= tensor.storage().nbytes());
  const auto* bytes = static_cast<const std::uint8_t*>(tensor.storage().data());
  std::uint64_t sum = 0;
  for (std::int64_t i = tensor.storage_offset() * item; i < (last + 1) * item; ++i) sum += bytes[i];
  return sum;
}

// repr and JSON of the saved object, strict UTF-8. Their DataErrors (values too deep or too
// large) carry no file name: these functions know none.
void convert(const pytorch::Graph& graph) {
  try {
    pytorch::repr(graph, graph.root());
    pytorch::to_json(graph, graph.root()).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const rtseg::sdk::DataError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string name = "fuzz.pth";
  try {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const pytorch::TorchFile file = pytorch::read_torch_bytes(bytes, name);
    std::uint64_t sum = 0;
    for (pytorch::Ref ref = 0; ref < file.graph.size(); ++ref) {
      if (file.graph[ref].kind == pytorch::Kind::Tensor) sum += touch(file.graph[ref].tensor);
    }
    static volatile std::uint64_t sink = 0;  // keeps the reads
    sink = sink + sum;
    convert(file.graph);
    rtseg::framework::rfdetr::checkpoint_from(file, name);
  } catch (const rtseg::sdk::DataError& error) {
    require(std::string(error.what()).rfind(name, 0) == 0);  // every message starts with the file
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include "replay.h"

rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  return mutate_binary(std::move(bytes), random);
}
#endif
