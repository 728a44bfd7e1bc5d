#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

/// The few protobuf wire-format primitives the TensorBoard writer needs, written by hand so that
/// no protobuf library is linked next to LibTorch (which may carry its own). A message is built
/// in a std::string; a sub-message is built separately and added with `message`.
namespace rtseg::framework::reporting {

class ProtoMessage {
 public:
  /// Wire type 0. int32/int64/enum/bool fields; negative values take 10 bytes, as protobuf does.
  void varint(int field, std::uint64_t value) {
    key(field, 0);
    raw_varint(value);
  }
  /// Wire type 1 (fixed64), e.g. Event.wall_time.
  void double_value(int field, double value) {
    key(field, 1);
    append_little_endian(value);
  }
  /// Wire type 5 (fixed32), e.g. Summary.Value.simple_value.
  void float_value(int field, float value) {
    key(field, 5);
    append_little_endian(value);
  }
  /// Wire type 2: strings, bytes and embedded messages.
  void bytes(int field, std::string_view value) {
    key(field, 2);
    raw_varint(value.size());
    data_.append(value.data(), value.size());
  }
  void message(int field, const ProtoMessage& sub) { bytes(field, sub.data()); }

  const std::string& data() const { return data_; }

 private:
  void key(int field, int wire_type) {
    raw_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
  }
  void raw_varint(std::uint64_t value) {
    while (value >= 0x80) {
      data_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    data_.push_back(static_cast<char>(value));
  }
  template <typename T>
  void append_little_endian(T value) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
#endif
    data_.append(bytes, sizeof(T));
  }

  std::string data_;
};

}  // namespace rtseg::framework::reporting
