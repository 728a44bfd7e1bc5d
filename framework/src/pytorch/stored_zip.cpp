#include "stored_zip.h"

#include <boost/crc.hpp>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::pytorch {
namespace {

// Record signatures and fixed sizes (PKWARE's APPNOTE.TXT, sections 4.3.7 to 4.3.16).
constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint64_t kLocalSize = 30;
constexpr std::uint64_t kCentralSize = 46;
constexpr std::uint64_t kEndSize = 22;
constexpr std::uint64_t kZip64EndSize = 56;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kMaxComment = 0xffff;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

std::string printable_name(std::string_view name) {
  std::string out;
  for (const char c : name.substr(0, 200)) out += c >= 0x20 && c < 0x7f ? c : '?';
  return out;
}

}  // namespace

StoredZip::StoredZip(std::string_view bytes, std::string where) : bytes_(bytes), where_(std::move(where)) {
  const Directory dir = directory(find_end());
  std::uint64_t at = dir.offset;
  for (std::uint64_t i = 0; i < dir.count; ++i) at = read_entry(at, dir);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (!by_name_.emplace(entries_[i].name, i).second) {
      fail("the archive has two entries named '" + printable_name(entries_[i].name) + "'.");
    }
  }
}

void StoredZip::fail(const std::string& what) const { throw sdk::DataError(where_ + ": " + what); }

std::uint64_t StoredZip::field(std::uint64_t at, int size) const {
  if (at > bytes_.size() || static_cast<std::uint64_t>(size) > bytes_.size() - at) {
    fail("the zip archive is truncated (a record runs past the end of the file).");
  }
  std::uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) value = (value << 8) | static_cast<std::uint8_t>(bytes_[at + i]);
  return value;
}

// The end-of-central-directory record: the last 22 bytes, unless the archive has a comment.
std::uint64_t StoredZip::find_end() const {
  if (bytes_.size() < kEndSize) fail("the file is too short to be a zip archive (truncated?).");
  const std::uint64_t last = bytes_.size() - kEndSize;
  const std::uint64_t lowest = last > kMaxComment ? last - kMaxComment : 0;
  for (std::uint64_t at = last + 1; at-- > lowest;) {
    if (field(at, 4) == kEndSignature && at + kEndSize + field(at + 20, 2) == bytes_.size()) return at;
  }
  fail("the zip archive has no end-of-directory record: the file is truncated or corrupt.");
}

StoredZip::Directory StoredZip::directory(std::uint64_t end) const {
  if (field(end + 4, 2) != 0 || field(end + 6, 2) != 0) fail("split (multi-disk) zip archives are not supported.");
  Directory dir{field(end + 16, 4), field(end + 12, 4), field(end + 10, 2)};
  std::uint64_t limit = end;  // the directory lies before its end record
  if (dir.offset == 0xffffffff || dir.size == 0xffffffff || dir.count == 0xffff) {
    if (end < kZip64LocatorSize || field(end - kZip64LocatorSize, 4) != kZip64LocatorSignature) {
      fail("the zip archive's zip64 end-of-directory locator is missing (corrupt file).");
    }
    const std::uint64_t record = field(end - kZip64LocatorSize + 8, 8);
    if (record > end - kZip64LocatorSize || end - kZip64LocatorSize - record < kZip64EndSize ||
        field(record, 4) != kZip64EndSignature) {
      fail("the zip archive's zip64 end-of-directory record is missing (corrupt file).");
    }
    dir = {field(record + 48, 8), field(record + 40, 8), field(record + 32, 8)};
    limit = record;
  }
  if (dir.offset > limit || dir.size > limit - dir.offset) {
    fail("the zip archive's central directory lies outside the file (truncated or corrupt).");
  }
  if (dir.count > dir.size / kCentralSize) fail("the zip archive's directory claims more entries than it holds.");
  return dir;
}

// Reads the directory record at `at`; returns where the next one starts.
std::uint64_t StoredZip::read_entry(std::uint64_t at, const Directory& dir) {
  const std::uint64_t end = dir.offset + dir.size;
  if (at > end || end - at < kCentralSize || field(at, 4) != kCentralSignature) {
    fail("zip directory record " + std::to_string(entries_.size()) + " is corrupt.");
  }
  const std::uint64_t name_size = field(at + 28, 2), extra_size = field(at + 30, 2), comment_size = field(at + 32, 2);
  if (end - at - kCentralSize < name_size + extra_size + comment_size) {
    fail("zip directory record " + std::to_string(entries_.size()) + " runs past the directory.");
  }
  Entry entry;
  entry.name = std::string(bytes_.substr(at + kCentralSize, name_size));
  entry.crc = static_cast<std::uint32_t>(field(at + 16, 4));
  std::uint64_t compressed = field(at + 20, 4);
  entry.size = field(at + 24, 4);
  std::uint64_t local = field(at + 42, 4);
  // Zip64: the 8-byte values of the fields set to 0xffffffff follow, in this order, in extra 0x0001.
  const std::uint64_t extra_end = at + kCentralSize + name_size + extra_size;
  for (std::uint64_t x = at + kCentralSize + name_size; x + 4 <= extra_end;) {
    const std::uint64_t id = field(x, 2), size = field(x + 2, 2), data_end = x + 4 + size;
    if (data_end > extra_end) fail("entry '" + printable_name(entry.name) + "' has a corrupt extra field.");
    std::uint64_t next = x + 4;
    for (std::uint64_t* value : {&entry.size, &compressed, &local}) {
      if (id != kZip64ExtraId || *value != 0xffffffff) continue;
      if (next + 8 > data_end) fail("entry '" + printable_name(entry.name) + "' has a short zip64 field.");
      *value = field(next, 8);
      next += 8;
    }
    x = data_end;
  }
  const std::string quoted = "entry '" + printable_name(entry.name) + "'";
  if (field(at + 8, 2) & 1) fail(quoted + " is encrypted.");
  if (field(at + 10, 2) != 0 || compressed != entry.size) {
    fail(quoted + " is compressed; torch.save stores entries uncompressed (was the archive repacked?).");
  }
  entry.offset = data_offset(local, entry, dir);
  entries_.push_back(std::move(entry));
  return at + kCentralSize + name_size + extra_size + comment_size;
}

std::uint64_t StoredZip::data_offset(std::uint64_t local, const Entry& entry, const Directory& dir) const {
  const std::string quoted = "entry '" + printable_name(entry.name) + "'";
  if (local > dir.offset || dir.offset - local < kLocalSize || field(local, 4) != kLocalSignature) {
    fail(quoted + ": its local header is missing or corrupt.");
  }
  const std::uint64_t name_size = field(local + 26, 2), extra_size = field(local + 28, 2);
  const std::uint64_t begin = local + kLocalSize + name_size + extra_size;
  if (begin > dir.offset || bytes_.substr(local + kLocalSize, name_size) != entry.name) {
    fail(quoted + ": its local header does not match the directory.");
  }
  if (entry.size > dir.offset - begin) fail(quoted + " runs past the end of the data (truncated or corrupt file).");
  return begin;
}

const StoredZip::Entry* StoredZip::find(std::string_view name) const {
  const auto found = by_name_.find(std::string(name));
  return found == by_name_.end() ? nullptr : &entries_[found->second];
}

std::string_view StoredZip::read(const Entry& entry) const {
  const std::string_view data = bytes_.substr(entry.offset, entry.size);
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  if (crc.checksum() != entry.crc) {
    fail("entry '" + printable_name(entry.name) + "' fails its CRC-32 check: the file is corrupt.");
  }
  return data;
}

}  // namespace rtseg::framework::pytorch
