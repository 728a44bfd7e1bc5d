#include "rtseg/sdk/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/suggest.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this reader maps it without byte swapping");

namespace rtseg::sdk {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's cap
constexpr const char* kMetadataKey = "__metadata__";

struct Dtype {
  const char* name;
  c10::ScalarType type;
  std::uint64_t itemsize;
};
constexpr Dtype kDtypes[] = {
    {"F64", c10::ScalarType::Double, 8}, {"F32", c10::ScalarType::Float, 4},
    {"F16", c10::ScalarType::Half, 2},   {"BF16", c10::ScalarType::BFloat16, 2},
    {"I64", c10::ScalarType::Long, 8},   {"I32", c10::ScalarType::Int, 4},
    {"I16", c10::ScalarType::Short, 2},  {"I8", c10::ScalarType::Char, 1},
    {"U8", c10::ScalarType::Byte, 1},    {"BOOL", c10::ScalarType::Bool, 1},
};

const Dtype* dtype_named(std::string_view name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const Dtype* dtype_of(c10::ScalarType type) {
  for (const Dtype& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw DataError(file.string() + ": " + what);
}

[[noreturn]] void fail_tensor(const fs::path& file, std::string_view name,
                              const std::string& what) {
  fail(file, "tensor '" + std::string(name) + "': " + what);
}

std::string errno_text() { return std::strerror(errno); }

// The whole file, mapped private copy-on-write: views can be written without touching the file.
class Mapping {
 public:
  explicit Mapping(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(file, "cannot open: " + errno_text());
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const std::string reason = errno_text();
      ::close(fd);
      fail(file, "cannot stat: " + reason);
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
    if (size_ < 8) {
      ::close(fd);
      fail(file, "file is " + std::to_string(size_) +
                     " bytes long; a safetensors file starts with an 8-byte header length.");
    }
    void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const std::string reason = errno_text();
    ::close(fd);  // the mapping stays valid without the descriptor
    if (data == MAP_FAILED) fail(file, "cannot map: " + reason);
    data_ = static_cast<std::uint8_t*>(data);
  }
  ~Mapping() { ::munmap(data_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::uint8_t* data() const { return data_; }
  std::uint64_t size() const { return size_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
};

struct Entry {
  const Dtype* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // absolute file offsets
  std::uint64_t end = 0;
};

// Parses the header JSON, reporting the first repeated key (nlohmann keeps the last silently).
Json parse_header(const fs::path& file, const char* text, std::size_t size) {
  std::vector<std::set<std::string>> open_objects;
  std::string top_level_key;
  std::string duplicate;
  auto on_event = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end) open_objects.pop_back();
    if (event == Json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (open_objects.size() == 1) top_level_key = key;
      if (!open_objects.back().insert(key).second && duplicate.empty()) {
        duplicate = open_objects.size() == 1
                        ? "tensor '" + key + "' is listed twice"
                        : "'" + top_level_key + "' has key '" + key + "' twice";
      }
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, text + size, on_event);
  } catch (const Json::exception& e) {
    fail(file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(file, "header: " + duplicate + ".");
  if (!header.is_object()) fail(file, "header is not a JSON object.");
  return header;
}

std::uint64_t unsigned_field(const fs::path& file, std::string_view name, const char* field,
                             const Json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer())
    fail_tensor(file, name, std::string(field) + " must not be negative.");
  fail_tensor(file, name, std::string(field) + " must hold integers, not " + value.dump() + ".");
}

Entry read_entry(const fs::path& file, const std::string& name, const Json& value,
                 std::uint64_t data_start, std::uint64_t data_size) {
  if (!value.is_object()) fail_tensor(file, name, "entry is not a JSON object.");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) fail_tensor(file, name, std::string("missing '") + field + "'.");
  }
  Entry entry;
  const Json& dtype = value["dtype"];
  if (!dtype.is_string()) fail_tensor(file, name, "'dtype' is not a string.");
  entry.dtype = dtype_named(dtype.get_ref<const std::string&>());
  if (!entry.dtype) fail_tensor(file, name, "unknown dtype '" + dtype.get<std::string>() + "'.");

  const Json& shape = value["shape"];
  if (!shape.is_array()) fail_tensor(file, name, "'shape' is not a list.");
  std::uint64_t numel = 1;
  for (const Json& dim : shape) {
    const std::uint64_t d = unsigned_field(file, name, "'shape'", dim);
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        __builtin_mul_overflow(numel, d, &numel) ||
        numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail_tensor(file, name, "shape " + shape.dump() + " has too many elements.");
    }
    entry.shape.push_back(static_cast<std::int64_t>(d));
  }

  const Json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_tensor(file, name, "'data_offsets' is not a list [begin, end].");
  }
  const std::uint64_t begin = unsigned_field(file, name, "'data_offsets'", offsets[0]);
  const std::uint64_t end = unsigned_field(file, name, "'data_offsets'", offsets[1]);
  const std::string span =
      "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (end < begin) fail_tensor(file, name, span + " end before begin.");
  if (end > data_size) {
    fail_tensor(file, name,
                span + " run past the end of the data (" + std::to_string(data_size) + " bytes).");
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, entry.dtype->itemsize, &bytes) || bytes != end - begin) {
    fail_tensor(file, name,
                span + " hold " + std::to_string(end - begin) + " bytes, but " + entry.dtype->name +
                    " " + shape.dump() + " needs " + std::to_string(numel) + " x " +
                    std::to_string(entry.dtype->itemsize) + ".");
  }
  entry.begin = data_start + begin;
  entry.end = data_start + end;
  return entry;
}

std::map<std::string, std::string> read_metadata(const fs::path& file, const Json& value) {
  if (!value.is_object()) fail(file, "'__metadata__' is not a JSON object.");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      fail(file, "'__metadata__' value of '" + key + "' is not a string: " + item.dump() + ".");
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

template <typename Entries>
void check_no_overlap(const fs::path& file, const Entries& entries) {
  std::vector<std::pair<const std::string*, const Entry*>> spans;
  for (const auto& [name, entry] : entries) {
    if (entry.end > entry.begin) spans.emplace_back(&name, &entry);
  }
  std::sort(spans.begin(), spans.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].second->begin < spans[i - 1].second->end) {
      fail_tensor(file, *spans[i].first, "data overlaps tensor '" + *spans[i - 1].first + "'.");
    }
  }
}

}  // namespace

struct SafetensorsFile::State {
  fs::path path;
  std::shared_ptr<const Mapping> mapping;
  std::map<std::string, Entry, std::less<>> entries;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile::SafetensorsFile(std::shared_ptr<const State> state) : state_(std::move(state)) {}

SafetensorsFile SafetensorsFile::open(const fs::path& file) {
  auto state = std::make_shared<State>();
  state->path = file;
  state->mapping = std::make_shared<const Mapping>(file);
  const Mapping& map = *state->mapping;

  std::uint64_t header_size = 0;
  std::memcpy(&header_size, map.data(), 8);
  if (header_size > kMaxHeaderBytes) {
    fail(file, "header length " + std::to_string(header_size) + " is over the 100 MB limit.");
  }
  if (header_size > map.size() - 8) {
    fail(file, "header length " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(map.size()) + " bytes).");
  }
  const Json header =
      parse_header(file, reinterpret_cast<const char*>(map.data()) + 8, header_size);
  const std::uint64_t data_start = 8 + header_size;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      state->metadata = read_metadata(file, value);
    } else {
      state->entries.emplace(name,
                             read_entry(file, name, value, data_start, map.size() - data_start));
    }
  }
  check_no_overlap(file, state->entries);
  return SafetensorsFile(std::move(state));
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(state_->entries.size());
  for (const auto& [name, entry] : state_->entries) names.push_back(name);
  return names;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return state_->entries.find(name) != state_->entries.end();
}

at::Tensor SafetensorsFile::get(std::string_view name) const {
  const auto found = state_->entries.find(name);
  if (found == state_->entries.end()) {
    fail_tensor(state_->path, name,
                "not in this file (" + std::to_string(state_->entries.size()) + " tensors)." +
                    did_you_mean(name, names()));
  }
  const Entry& entry = found->second;
  const auto options = at::TensorOptions().dtype(entry.dtype->type);
  std::uint8_t* data = state_->mapping->data() + entry.begin;
  const std::uint64_t bytes = entry.end - entry.begin;
  // Kernels may assume element alignment; the mapping is page-aligned, so only the offset matters.
  if (bytes == 0 || entry.begin % entry.dtype->itemsize != 0) {
    at::Tensor copy = at::empty(entry.shape, options);
    if (bytes > 0) std::memcpy(copy.data_ptr(), data, bytes);
    return copy;
  }
  std::shared_ptr<const Mapping> keep_alive = state_->mapping;
  return at::from_blob(
      data, entry.shape, [keep_alive](void*) {}, options);
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return state_->metadata;
}

const fs::path& SafetensorsFile::path() const { return state_->path; }

// ---- writing -----------------------------------------------------------------------------------
namespace {

struct Item {
  const std::string* name;
  at::Tensor data;  // contiguous, CPU
  const Dtype* dtype;
};

std::vector<Item> prepare_items(const fs::path& file,
                                const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<Item> items;
  std::set<std::string_view> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == kMetadataKey) fail(file, "invalid tensor name '" + name + "'.");
    if (!seen.insert(name).second) fail_tensor(file, name, "given twice.");
    if (!tensor.defined()) fail_tensor(file, name, "is an undefined tensor.");
    if (tensor.layout() != c10::kStrided) fail_tensor(file, name, "is not a dense tensor.");
    const Dtype* dtype = dtype_of(tensor.scalar_type());
    if (!dtype) {
      fail_tensor(file, name,
                  std::string("dtype ") + c10::toString(tensor.scalar_type()) +
                      " has no safetensors name.");
    }
    items.push_back({&name, tensor.to(at::kCPU).contiguous(), dtype});
  }
  // Larger elements first: every tensor then starts at a multiple of its own element size.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.dtype->itemsize > b.dtype->itemsize;
  });
  return items;
}

std::string header_text(const fs::path& file, const std::vector<Item>& items,
                        const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  std::uint64_t offset = 0;
  for (const Item& item : items) {
    const std::uint64_t bytes = item.data.nbytes();
    header[*item.name] = {{"dtype", item.dtype->name},
                          {"shape", item.data.sizes().vec()},
                          {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    fail(file, std::string("cannot write the header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

void save_safetensors(const fs::path& file,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::vector<Item> items = prepare_items(file, tensors);
  const std::string header = header_text(file, items, metadata);
  const std::uint64_t header_size = header.size();

  try {
    AtomicFile out(file);
    out.write(&header_size, 8);
    out.write(header.data(), header.size());
    for (const Item& item : items) out.write(item.data.data_ptr(), item.data.nbytes());
    out.commit();
  } catch (const DataError&) {
    throw;
  } catch (const Error& error) {
    throw DataError(error.what());  // a checkpoint that cannot be written is a data problem
  }
}

}  // namespace rtseg::sdk
