#pragma once

// Hand-made PyTorch checkpoint bytes for tests: pickles opcode by opcode, stored zip archives
// (torch.save's format) and legacy-format files, so that tests can name any global or opcode.

#include <boost/crc.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rtseg::testing {

inline void append_le(std::string& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

/// A pickle, written opcode by opcode (protocol 2 unless said otherwise).
class PickleWriter {
 public:
  explicit PickleWriter(int protocol = 2) { out_ += "\x80" + std::string(1, static_cast<char>(protocol)); }

  PickleWriter& op(char opcode) {
    out_ += opcode;
    return *this;
  }
  PickleWriter& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  template <std::size_t N>
  PickleWriter& raw(const char (&bytes)[N]) {  // a literal, NUL bytes included
    out_.append(bytes, N - 1);
    return *this;
  }
  PickleWriter& text(const std::string& value) {  // BINUNICODE
    out_ += 'X';
    append_le(out_, value.size(), 4);
    out_ += value;
    return *this;
  }
  PickleWriter& integer(std::int32_t value) {  // BININT
    out_ += 'J';
    append_le(out_, static_cast<std::uint32_t>(value), 4);
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {  // GLOBAL
    out_ += "c" + module + "\n" + name + "\n";
    return *this;
  }
  /// ('storage', torch.<type>, key, 'cpu', numel[, None]) as a persistent id.
  PickleWriter& storage(const std::string& type, const std::string& key, int numel, bool legacy = false) {
    op('(').text("storage").global("torch", type).text(key).text("cpu").integer(numel);
    if (legacy) op('N');
    return op('t').op('Q');
  }
  /// _rebuild_tensor_v2(storage, offset, (size,), (1,), False, OrderedDict()) of a 1-D tensor.
  PickleWriter& tensor(const std::string& type, const std::string& key, int numel, int offset, int size,
                       bool legacy = false) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    storage(type, key, numel, legacy).integer(offset).integer(size).op('\x85').integer(1).op('\x85');
    return op('\x89').global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  }
  std::string bytes() const { return out_ + "."; }

 private:
  std::string out_;
};

/// A zip archive of stored entries, as torch.save writes (without its 64-byte alignment).
inline std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, directory;
  for (const auto& [name, data] : entries) {
    boost::crc_32_type crc;
    crc.process_bytes(data.data(), data.size());
    const std::uint64_t local = out.size();
    // local header: signature, version, flags, method, time, date, crc, sizes, name and extra lengths
    append_le(out, 0x04034b50, 4);
    for (const int field : {20, 0, 0, 0, 0}) append_le(out, field, 2);
    append_le(out, crc.checksum(), 4);
    append_le(out, data.size(), 4);
    append_le(out, data.size(), 4);
    append_le(out, name.size(), 2);
    append_le(out, 0, 2);
    out += name + data;
    append_le(directory, 0x02014b50, 4);
    for (const int field : {20, 20, 0, 0, 0, 0}) append_le(directory, field, 2);
    append_le(directory, crc.checksum(), 4);
    append_le(directory, data.size(), 4);
    append_le(directory, data.size(), 4);
    append_le(directory, name.size(), 2);
    for (const int field : {0, 0, 0, 0}) append_le(directory, field, 2);  // extra, comment, disk, attributes
    append_le(directory, 0, 4);
    append_le(directory, local, 4);
    directory += name;
  }
  const std::uint64_t offset = out.size();
  out += directory;
  append_le(out, 0x06054b50, 4);
  for (const std::uint64_t field : {0ul, 0ul, entries.size(), entries.size()}) append_le(out, field, 2);
  append_le(out, directory.size(), 4);
  append_le(out, offset, 4);
  append_le(out, 0, 2);
  return out;
}

/// A storage's key, bytes and element size.
struct StorageBytes {
  std::string key;
  std::string bytes;
  int element_size = 4;
};

/// A torch.save zip archive named `folder` holding `pickle` and the storages.
inline std::string zip_checkpoint(const std::string& pickle, const std::vector<StorageBytes>& storages = {},
                                  const std::string& folder = "archive") {
  std::vector<std::pair<std::string, std::string>> entries{{folder + "/data.pkl", pickle}};
  for (const auto& storage : storages) entries.emplace_back(folder + "/data/" + storage.key, storage.bytes);
  entries.emplace_back(folder + "/version", "3\n");
  return stored_zip(entries);
}

/// The legacy format: magic number, protocol version, system info, `pickle`, the storage keys,
/// then each storage as its element count (8 bytes) and its bytes.
inline std::string legacy_checkpoint(const std::string& pickle, const std::vector<StorageBytes>& storages = {}) {
  std::string out = PickleWriter().op('\x8a').op('\x0a').raw("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19").bytes();
  out += PickleWriter().op('M').raw("\xe9\x03").bytes();
  out += PickleWriter().op('}').op('(').text("little_endian").op('\x88').op('u').bytes();
  out += pickle;
  PickleWriter keys;
  keys.op(']').op('(');
  for (const auto& storage : storages) keys.text(storage.key);
  out += keys.op('e').bytes();
  for (const auto& storage : storages) {
    append_le(out, storage.bytes.size() / storage.element_size, 8);
    out += storage.bytes;
  }
  return out;
}

}  // namespace rtseg::testing
