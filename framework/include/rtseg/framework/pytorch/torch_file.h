#pragma once

#include <filesystem>
#include <string>

#include "rtseg/framework/pytorch/pickle.h"

/// Reading what torch.save wrote, without Python: the zip format (PyTorch >= 1.6: a pickle,
/// `<name>/data.pkl`, and one stored entry per storage, `<name>/data/<key>`) and the legacy format
/// before it (five pickles in a row -- magic number, protocol version, system info, the object,
/// storage keys -- then each storage's bytes). The pickle is read by pytorch::unpickle(), which
/// accepts only the globals a checkpoint needs; every tensor comes back on the CPU, as
/// torch.load(file, map_location="cpu") would give it.
namespace rtseg::framework::pytorch {

enum class FileFormat { Zip, Legacy };

struct TorchFile {
  Graph graph;  ///< the saved object; graph.root() is the value torch.load returns
  FileFormat format = FileFormat::Zip;
};

/// Reads `file`. Zip format: the file is memory-mapped and tensors view the mapping (private,
/// copy-on-write: writing into a tensor never changes the file), so a large checkpoint is never
/// held twice in memory; every entry's CRC-32 is checked. Legacy format: each storage is copied
/// out of the mapping once. Throws sdk::DataError naming the file for anything that is not a
/// well-formed checkpoint (truncated, corrupt, a refused global, a compressed entry).
TorchFile read_torch_file(const std::filesystem::path& file);

/// The same for a file already in memory (tests, fuzzing); tensors keep `bytes` alive. `name`
/// starts every error message.
TorchFile read_torch_bytes(std::string bytes, const std::string& name);

}  // namespace rtseg::framework::pytorch
