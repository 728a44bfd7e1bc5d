#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtseg/sdk/export.h"

/// Reading and writing the safetensors format: an 8-byte little-endian header length N, N bytes
/// of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__":
/// {string: string}}), then the raw little-endian C-order data (offsets relative to its start).
/// Dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Every error is an sdk::DataError that names
/// the file and the tensor or field at fault.
namespace rtseg::sdk {

/// An opened safetensors file, memory-mapped whole. Copies are cheap and share the mapping.
class RTSEG_SDK_API SafetensorsFile {
 public:
  /// Maps `file` and validates its whole header (types, shapes, byte spans, overlaps, duplicate
  /// names). Throws DataError.
  static SafetensorsFile open(const std::filesystem::path& file);

  /// Tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(std::string_view name) const;

  /// A CPU tensor viewing the mapping; it keeps the mapping alive after this object is gone.
  /// The mapping is private copy-on-write: writing into the tensor never changes the file, but
  /// later get() calls on this opened file (and its copies) would see the write, so copy
  /// (`.clone()`) before writing. Data whose offset is not a multiple of its element size is
  /// copied into an aligned tensor instead. Throws DataError naming file and tensor when absent.
  at::Tensor get(std::string_view name) const;

  /// The "__metadata__" table (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const;
  const std::filesystem::path& path() const;

 private:
  struct State;
  explicit SafetensorsFile(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
};

/// Writes `tensors` (any device, any layout: each is copied to contiguous CPU memory) and
/// `metadata` to `file`. Names must be unique and non-empty and may not be "__metadata__".
/// Data is packed by decreasing element size, then in the given order, so that every tensor
/// starts at a multiple of its element size; the header is padded with spaces to a multiple of 8.
/// Atomic: written to a temporary file in the same folder, fsync'ed, renamed over `file`, and the
/// folder fsync'ed. On failure (DataError) any previous `file` is intact and the temporary file
/// is removed.
RTSEG_SDK_API void save_safetensors(const std::filesystem::path& file,
                                    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                    const std::map<std::string, std::string>& metadata = {});

}  // namespace rtseg::sdk
