#pragma once

// An independent reader of TensorBoard event files for the tests: TFRecord framing with CRC
// checks and a generic protobuf decoder (field number -> values), written from the format
// description rather than from the writer's code.

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtseg/framework/reporting/crc32c.h"

namespace rtseg::testing {

/// One decoded field: varints and fixed-width values in `number`, length-delimited ones in `bytes`.
struct ProtoField {
  int wire_type = 0;
  std::uint64_t number = 0;
  std::string bytes;

  double as_double() const {
    double d;
    std::memcpy(&d, &number, 8);
    return d;
  }
  float as_float() const {
    const auto low = static_cast<std::uint32_t>(number);
    float f;
    std::memcpy(&f, &low, 4);
    return f;
  }
};
using ProtoFields = std::multimap<int, ProtoField>;

inline std::uint64_t read_varint(const std::string& data, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at >= data.size()) throw std::runtime_error("truncated varint");
    const auto byte = static_cast<std::uint8_t>(data[at++]);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("varint too long");
}

inline std::uint64_t read_little_endian(const std::string& data, std::size_t at, int size) {
  if (at + static_cast<std::size_t>(size) > data.size()) throw std::runtime_error("truncated fixed value");
  std::uint64_t value = 0;
  for (int i = 0; i < size; ++i) value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[at + i])) << (8 * i);
  return value;
}

inline ProtoFields decode_proto(const std::string& data) {
  ProtoFields fields;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::uint64_t key = read_varint(data, at);
    ProtoField field;
    field.wire_type = static_cast<int>(key & 7);
    switch (field.wire_type) {
      case 0: field.number = read_varint(data, at); break;
      case 1: field.number = read_little_endian(data, at, 8); at += 8; break;
      case 5: field.number = read_little_endian(data, at, 4); at += 4; break;
      case 2: {
        const std::uint64_t size = read_varint(data, at);
        if (at + size > data.size()) throw std::runtime_error("truncated bytes field");
        field.bytes = data.substr(at, size);
        at += size;
        break;
      }
      default: throw std::runtime_error("unexpected wire type " + std::to_string(field.wire_type));
    }
    fields.emplace(static_cast<int>(key >> 3), field);
  }
  return fields;
}

/// The first field `number` (throws when absent).
inline const ProtoField& field(const ProtoFields& fields, int number) {
  const auto found = fields.find(number);
  if (found == fields.end()) throw std::runtime_error("missing field " + std::to_string(number));
  return found->second;
}

/// The records of a TFRecord file; throws on a bad length or data CRC or a truncated record.
inline std::vector<std::string> read_records(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < data.size()) {
    if (at + 12 > data.size()) throw std::runtime_error("truncated record header");
    const std::uint64_t size = read_little_endian(data, at, 8);
    if (read_little_endian(data, at + 8, 4) != framework::reporting::masked_crc32c(data.substr(at, 8)))
      throw std::runtime_error("bad length CRC");
    at += 12;
    if (at + size + 4 > data.size()) throw std::runtime_error("truncated record");
    std::string record = data.substr(at, size);
    if (read_little_endian(data, at + size, 4) != framework::reporting::masked_crc32c(record))
      throw std::runtime_error("bad data CRC");
    at += size + 4;
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace rtseg::testing
