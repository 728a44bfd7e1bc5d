#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rtseg::framework::pytorch {

/// A reader of zip archives whose entries are stored, not compressed -- the archives torch.save
/// writes -- over bytes in memory (zip64 included).
///
/// Why not LibTorch's own reader (caffe2::serialize::PyTorchStreamReader, with miniz): it
/// allocates the size an entry's directory record claims before checking it against the file (a
/// few hundred corrupt bytes can ask for gigabytes), its bundled miniz is outside what this
/// project's sanitizers and fuzzers instrument, its errors carry C++ backtraces instead of the
/// file's name, and it copies every record into a new buffer where a memory map lets tensors view
/// the file directly. Here every offset and size is checked against the bytes before it is used,
/// and each entry's CRC-32 is checked when it is read.
class StoredZip {
 public:
  struct Entry {
    std::string name;
    std::uint64_t offset = 0;  ///< of its data in the archive
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
  };

  /// Reads the central directory and every entry's local header. Throws sdk::DataError starting
  /// with `where` when the archive is truncated, corrupt, encrypted, split or compressed.
  StoredZip(std::string_view bytes, std::string where);

  const std::vector<Entry>& entries() const { return entries_; }
  /// The entry named `name`, or nullptr.
  const Entry* find(std::string_view name) const;
  /// The entry's bytes, after checking their CRC-32 against the directory. Throws sdk::DataError.
  std::string_view read(const Entry& entry) const;

 private:
  struct Directory {
    std::uint64_t offset, size, count;
  };
  [[noreturn]] void fail(const std::string& what) const;
  std::uint64_t field(std::uint64_t at, int size) const;
  std::uint64_t find_end() const;
  Directory directory(std::uint64_t end) const;
  std::uint64_t read_entry(std::uint64_t at, const Directory& directory);
  std::uint64_t data_offset(std::uint64_t local, const Entry& entry, const Directory& directory) const;

  std::string_view bytes_;
  std::string where_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> by_name_;
};

}  // namespace rtseg::framework::pytorch
