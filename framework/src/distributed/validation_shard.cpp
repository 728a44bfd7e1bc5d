#include "rtseg/framework/distributed/validation_shard.h"

#include <cstring>
#include <string>
#include <type_traits>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

class Writer {
 public:
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* raw = reinterpret_cast<const std::uint8_t*>(&value);
    bytes_.insert(bytes_.end(), raw, raw + sizeof(T));
  }
  template <typename T>
  void put_array(const std::vector<T>& values) {
    put<std::uint64_t>(values.size());
    const auto* raw = reinterpret_cast<const std::uint8_t*>(values.data());
    bytes_.insert(bytes_.end(), raw, raw + values.size() * sizeof(T));
  }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

class Reader {
 public:
  explicit Reader(const std::vector<std::uint8_t>& bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    T value;
    read(&value, sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> get_array() {
    const auto count = get<std::uint64_t>();
    if (count > (bytes_.size() - position_) / sizeof(T)) fail();
    std::vector<T> values(static_cast<std::size_t>(count));
    read(values.data(), values.size() * sizeof(T));
    return values;
  }
  std::uint64_t count() {
    const auto n = get<std::uint64_t>();
    if (n > bytes_.size() - position_) fail();  // every item takes at least a byte
    return n;
  }
  bool done() const { return position_ == bytes_.size(); }
  [[noreturn]] void fail() const {
    throw sdk::Error("distributed validation: a rank sent malformed detections (" + std::to_string(bytes_.size()) +
                     " bytes, stopped at " + std::to_string(position_) + ")");
  }

 private:
  void read(void* into, std::size_t size) {
    if (size > bytes_.size() - position_) fail();
    if (size > 0) std::memcpy(into, bytes_.data() + position_, size);
    position_ += size;
  }
  const std::vector<std::uint8_t>& bytes_;
  std::size_t position_ = 0;
};

}  // namespace

std::vector<std::uint8_t> to_bytes(const ValidationShard& shard) {
  Writer out;
  out.put<std::uint64_t>(shard.images.size());
  for (const ValidationShard::Image& image : shard.images) {
    out.put(image.index);
    out.put<std::uint64_t>(image.detections.size());
    for (const Detection& d : image.detections) {
      out.put(d.image_id);
      out.put(d.label);
      out.put(d.score);
      out.put(d.box_xywh);
      out.put<std::uint8_t>(d.mask ? 1 : 0);
      if (d.mask) {
        out.put(d.mask->height);
        out.put(d.mask->width);
        out.put_array(d.mask->counts);
      }
    }
  }
  out.put_array(shard.failed);
  return out.take();
}

ValidationShard validation_shard_from_bytes(const std::vector<std::uint8_t>& bytes) {
  Reader in(bytes);
  ValidationShard shard;
  shard.images.resize(static_cast<std::size_t>(in.count()));
  for (ValidationShard::Image& image : shard.images) {
    image.index = in.get<std::int64_t>();
    image.detections.resize(static_cast<std::size_t>(in.count()));
    for (Detection& d : image.detections) {
      d.image_id = in.get<std::int64_t>();
      d.label = in.get<std::int64_t>();
      d.score = in.get<float>();
      d.box_xywh = in.get<std::array<double, 4>>();
      if (in.get<std::uint8_t>() != 0) {
        sdk::RunLengths mask;
        mask.height = in.get<std::int64_t>();
        mask.width = in.get<std::int64_t>();
        mask.counts = in.get_array<std::uint32_t>();
        d.mask = std::move(mask);
      }
    }
  }
  shard.failed = in.get_array<std::int64_t>();
  if (!in.done()) in.fail();
  return shard;
}

}  // namespace rtseg::framework::distributed
