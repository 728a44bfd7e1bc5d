#include "rtseg/framework/pytorch/torch_file.h"

#include <c10/core/CPUAllocator.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "rtseg/sdk/errors.h"
#include "stored_zip.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "torch.save writes storages in the saving machine's byte order; this reader maps little-endian ones");

namespace rtseg::framework::pytorch {
namespace {

namespace fs = std::filesystem;

// The legacy format's first pickle: torch.serialization's MAGIC_NUMBER, 0x1950a86a20f9469cfc6c.
constexpr const char* kLegacyMagic = "119547037146038801333356";
constexpr std::int64_t kLegacyProtocol = 1001;

// A whole file, mapped private copy-on-write: tensors viewing it can be written to without
// changing the file.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw sdk::DataError(file.string() + ": cannot open: " + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      throw sdk::DataError(file.string() + ": not a regular file.");
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ > 0) {
      void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      const int error = errno;
      ::close(fd);  // the mapping stays valid without the descriptor
      if (data == MAP_FAILED) throw sdk::DataError(file.string() + ": cannot map: " + std::strerror(error));
      data_ = static_cast<char*>(data);
    } else {
      ::close(fd);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

// The file's bytes and what keeps them alive (a mapping, or a string in memory).
struct Source {
  std::string_view bytes;
  std::shared_ptr<const void> owner;
  std::string name;

  [[noreturn]] void fail(const std::string& what) const { throw sdk::DataError(name + ": " + what); }
};

// Storage bytes as a DataPtr: viewing `bytes` (the DataPtr keeps the source alive) when they
// are aligned for any element type, else a copy (hand-made archives; the legacy format).
at::DataPtr storage_data(const Source& source, std::string_view bytes) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::max_align_t) == 0) {
    auto* owner = new std::shared_ptr<const void>(source.owner);
    void* data = const_cast<char*>(bytes.data());
    return {data, owner, [](void* context) { delete static_cast<std::shared_ptr<const void>*>(context); },
            c10::Device(c10::kCPU)};
  }
  at::DataPtr copy = c10::GetCPUAllocator()->allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return copy;
}

// A persistent id: ('storage', torch.<Type>Storage, key, location, numel), and in the legacy
// format a sixth item, view metadata, None since PyTorch 0.4.
struct StorageId {
  std::string type;
  c10::ScalarType dtype;
  std::string key;
  std::uint64_t bytes;
};

StorageId storage_id(const Source& source, const Graph& graph, const Value& id, std::size_t size) {
  const auto& items = id.items;
  const auto is = [&](std::size_t i, Kind kind) { return graph[items[i]].kind == kind; };
  if (id.kind != Kind::Tuple || items.size() != size || !is(0, Kind::String) || graph[items[0]].text != "storage" ||
      !is(1, Kind::Class) || !is(2, Kind::String) || !is(3, Kind::String) || !is(4, Kind::Int) ||
      graph[items[4]].integer < 0 || (size == 6 && !is(5, Kind::None))) {
    source.fail(std::string("a persistent id is not ('storage', type, key, location, numel") +
                (size == 6 ? ", None)." : ")."));
  }
  StorageId result{graph[items[1]].text, c10::ScalarType::Undefined, graph[items[2]].text, 0};
  const auto dtype = storage_dtype(result.type);
  if (!dtype) source.fail("'" + result.type + "' is not a storage type.");
  result.dtype = *dtype;
  const auto numel = static_cast<std::uint64_t>(graph[items[4]].integer);
  if (__builtin_mul_overflow(numel, c10::elementSize(result.dtype), &result.bytes)) {
    source.fail("storage '" + result.key + "' claims too many elements.");
  }
  return result;
}

Value storage_value(const StorageId& id, c10::Storage storage) {
  Value value;
  value.kind = Kind::Storage;
  value.text = id.type;
  value.dtype = id.dtype;
  value.integer = static_cast<std::int64_t>(id.bytes / c10::elementSize(id.dtype));
  value.storage = std::move(storage);
  return value;
}

c10::Storage make_storage(std::uint64_t bytes, at::DataPtr data) {
  return c10::Storage(c10::Storage::use_byte_size_t(), bytes, std::move(data), nullptr, false);
}

// The archive's folder ("<name>/", from torch.save's file name, "archive/" since PyTorch 2.x):
// the one of its data.pkl.
std::string archive_folder(const Source& source, const StoredZip& zip) {
  std::string folder;
  for (const auto& entry : zip.entries()) {
    const std::size_t slash = entry.name.find('/');
    if (slash == std::string::npos || entry.name.substr(slash + 1) != "data.pkl") continue;
    if (!folder.empty()) source.fail("the archive holds more than one data.pkl.");
    folder = entry.name.substr(0, slash + 1);
  }
  if (folder.empty()) {
    source.fail("the zip archive has no <name>/data.pkl: it is not a PyTorch checkpoint (torch.save).");
  }
  return folder;
}

TorchFile read_zip(const Source& source) {
  const StoredZip zip(source.bytes, source.name);
  const std::string folder = archive_folder(source, zip);
  if (const auto* order = zip.find(folder + "byteorder"); order && zip.read(*order) != "little") {
    source.fail("its tensors were saved big-endian; this reader reads little-endian checkpoints.");
  }
  if (zip.find(folder + "constants.pkl")) {
    source.fail("this is a TorchScript archive (torch.jit.save), not a checkpoint (torch.save).");
  }
  std::map<std::string, c10::Storage> storages;  // by key: tensors of one storage share it
  const PersistentLoader load = [&](const Graph& graph, const Value& id) {
    const StorageId storage = storage_id(source, graph, id, 5);
    auto found = storages.find(storage.key);
    if (found == storages.end()) {
      const auto* entry = zip.find(folder + "data/" + storage.key);
      if (!entry) source.fail("storage '" + storage.key + "' has no entry " + folder + "data/" + storage.key + ".");
      found = storages.emplace(storage.key, make_storage(entry->size, storage_data(source, zip.read(*entry)))).first;
    }
    if (found->second.nbytes() != storage.bytes) {
      source.fail("storage '" + storage.key + "' holds " + std::to_string(found->second.nbytes()) +
                  " bytes, its tensors say " + std::to_string(storage.bytes) + ".");
    }
    return storage_value(storage, found->second);
  };
  const auto* pickle = zip.find(folder + "data.pkl");
  return {unpickle(zip.read(*pickle), source.name + " (" + folder + "data.pkl)", load).graph, FileFormat::Zip};
}

// The legacy format: pickles one after another, then the storages' bytes, each as its
// little-endian element count and the elements, in the order of the last pickle's key list.
class LegacyReader {
 public:
  explicit LegacyReader(const Source& source) : source_(source) {}

  TorchFile read() {
    check_header();
    const PersistentLoader load = [this](const Graph& graph, const Value& id) { return storage(graph, id); };
    Graph object = next("the saved object", load);
    const Graph keys = next("the storage keys");
    const Value& list = keys[keys.root()];
    if (list.kind != Kind::List) source_.fail("the legacy format's storage keys are not a list.");
    for (const Ref key : list.items) {
      if (keys[key].kind != Kind::String) source_.fail("a storage key is not a string.");
      fill(keys[key].text);
    }
    for (const auto& [key, pending] : pending_) {
      if (!pending.filled) source_.fail("storage '" + key + "' has no data (truncated file?).");
    }
    return {std::move(object), FileFormat::Legacy};
  }

 private:
  struct Pending {
    c10::Storage storage;
    std::size_t item = 1;  // element size
    bool filled = false;
  };

  Graph next(const char* what, const PersistentLoader& load = {}) {
    const std::string where = source_.name + " (legacy format, " + what + " at byte " + std::to_string(at_) + ")";
    Unpickled pickle = unpickle(source_.bytes.substr(at_), where, load);
    at_ += pickle.size;
    return std::move(pickle.graph);
  }

  void check_header() {
    const Graph magic = next("magic number");
    if (magic[magic.root()].kind != Kind::BigInt || magic[magic.root()].text != kLegacyMagic) {
      source_.fail("not a PyTorch checkpoint (neither a zip archive nor the legacy format's magic number).");
    }
    const Graph protocol = next("protocol version");
    const Value& version = protocol[protocol.root()];
    if (version.kind != Kind::Int || version.integer != kLegacyProtocol) {
      const std::string found = version.kind == Kind::Int ? std::to_string(version.integer)
                                                          : std::string("(a ") + kind_name(version.kind) + ")";
      source_.fail("unknown legacy format version " + found + " (expected 1001).");
    }
    const Graph info = next("system info");
    const Value* little = info.find(info[info.root()], "little_endian");
    if (!little || little->kind != Kind::Bool || little->integer != 1) {
      source_.fail("its tensors were saved big-endian; this reader reads little-endian checkpoints.");
    }
  }

  // Storages are made empty while the object is read (its tensors refer to them) and filled once
  // their bytes are found after it; their sizes are checked against the file first, so that a
  // corrupt size never allocates memory.
  Value storage(const Graph& graph, const Value& id) {
    const StorageId storage = storage_id(source_, graph, id, 6);
    auto found = pending_.find(storage.key);
    if (found == pending_.end()) {
      if (storage.bytes > source_.bytes.size() - claimed_) {
        source_.fail("storage '" + storage.key + "' claims more bytes than the file has (corrupt file).");
      }
      claimed_ += storage.bytes;
      const Pending pending{make_storage(storage.bytes, {}), c10::elementSize(storage.dtype), false};
      found = pending_.emplace(storage.key, pending).first;
    }
    if (found->second.storage.nbytes() != storage.bytes) {
      source_.fail("storage '" + storage.key + "' is named with two sizes.");
    }
    return storage_value(storage, found->second.storage);
  }

  void fill(const std::string& key) {
    const auto found = pending_.find(key);
    if (found == pending_.end() || found->second.filled) {
      source_.fail("storage key '" + key + "' is not one of the saved object's storages, or is listed twice.");
    }
    Pending& pending = found->second;
    const std::uint64_t bytes = pending.storage.nbytes();
    if (source_.bytes.size() - at_ < 8) source_.fail("the file ends before storage '" + key + "' (truncated file?).");
    std::uint64_t count = 0;
    std::memcpy(&count, source_.bytes.data() + at_, 8);
    if (count != bytes / pending.item) {
      source_.fail("storage '" + key + "' has " + std::to_string(count) + " elements in the file, not the " +
                   std::to_string(bytes / pending.item) + " its tensors name (corrupt file).");
    }
    if (source_.bytes.size() - at_ - 8 < bytes) {
      source_.fail("the file ends inside storage '" + key + "' (truncated file?).");
    }
    pending.storage.set_data_ptr_noswap(storage_data(source_, source_.bytes.substr(at_ + 8, bytes)));
    pending.filled = true;
    at_ += 8 + bytes;
  }

  const Source& source_;
  std::size_t at_ = 0;
  std::uint64_t claimed_ = 0;
  std::map<std::string, Pending> pending_;
};

TorchFile read_source(const Source& source) {
  if (source.bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) return read_zip(source);
  if (!source.bytes.empty() && source.bytes[0] == '\x80') return LegacyReader(source).read();  // PROTO
  source.fail("not a PyTorch checkpoint: it starts neither like a zip archive (torch.save since PyTorch 1.6) "
              "nor like the legacy format's pickle.");
}

}  // namespace

TorchFile read_torch_file(const fs::path& file) {
  auto mapping = std::make_shared<const MappedFile>(file);
  return read_source({mapping->bytes(), mapping, file.string()});
}

TorchFile read_torch_bytes(std::string bytes, const std::string& name) {
  auto owner = std::make_shared<const std::string>(std::move(bytes));
  return read_source({*owner, owner, name});
}

}  // namespace rtseg::framework::pytorch
