#include "json_values.h"

#include <cmath>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {

std::string JsonPlace::describe() const {
  std::string text(array);
  if (index >= 0) text += "[" + std::to_string(index) + "]";
  if (!field.empty()) text += (text.empty() ? "" : ".") + std::string(field);
  return text.empty() ? "top level" : text;
}

void fail_at(const JsonPlace& place, const std::string& problem) {
  throw sdk::DataError(std::string(place.file) + ": " + place.describe() + ": " + problem);
}

void fail_json(const JsonPlace& place, simdjson::error_code error) {
  fail_at(place, std::string("invalid JSON (") + simdjson::error_message(error) +
                     "); is the file truncated or not JSON?");
}

std::string json_type_name(ondemand::value& value) {
  ondemand::json_type type;
  if (value.type().get(type)) return "invalid JSON";
  switch (type) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "an unknown value";
}

namespace {

// A failed get_*(): a value of another type ("expected X, got Y"), or a malformed token.
[[noreturn]] void fail_type(ondemand::value& value, const JsonPlace& place,
                            std::string_view expected, ondemand::json_type expected_type,
                            simdjson::error_code error) {
  ondemand::json_type type;
  if (!value.type().get(type) && type != expected_type) {
    fail_at(place, "expected " + std::string(expected) + ", got " + json_type_name(value));
  }
  fail_json(place, error);
}

}  // namespace

std::int64_t read_integer(ondemand::value& value, const JsonPlace& place) {
  ondemand::number number;
  if (const auto error = value.get_number().get(number))
    fail_type(value, place, "an integer", ondemand::json_type::number, error);
  if (number.is_int64()) return number.get_int64();
  const double real = number.as_double();
  // 2^63 is exactly representable; anything at or beyond it does not fit an int64.
  if (number.is_uint64() || !std::isfinite(real) || std::floor(real) != real ||
      std::fabs(real) >= 9.2233720368547758e18) {
    fail_at(place, "expected an integer, got " + std::to_string(real));
  }
  return static_cast<std::int64_t>(real);
}

double read_number(ondemand::value& value, const JsonPlace& place) {
  double number = 0;
  if (const auto error = value.get_double().get(number))
    fail_type(value, place, "a number", ondemand::json_type::number, error);
  return number;
}

std::string_view read_string(ondemand::value& value, const JsonPlace& place) {
  std::string_view text;
  if (const auto error = value.get_string().get(text))
    fail_type(value, place, "a string", ondemand::json_type::string, error);
  return text;
}

bool read_flag(ondemand::value& value, const JsonPlace& place) {
  ondemand::json_type type;
  if (const auto error = value.type().get(type)) fail_json(place, error);
  if (type == ondemand::json_type::boolean) {
    bool flag = false;
    if (const auto error = value.get_bool().get(flag)) fail_json(place, error);
    return flag;
  }
  if (type != ondemand::json_type::number)
    fail_at(place, "expected 0 or 1, got " + json_type_name(value));
  const std::int64_t number = read_integer(value, place);
  if (number != 0 && number != 1) fail_at(place, "expected 0 or 1, got " + std::to_string(number));
  return number == 1;
}

ondemand::array read_array(ondemand::value& value, const JsonPlace& place) {
  ondemand::array array;
  if (const auto error = value.get_array().get(array))
    fail_type(value, place, "an array", ondemand::json_type::array, error);
  return array;
}

ondemand::object read_object(ondemand::value& value, const JsonPlace& place) {
  ondemand::object object;
  if (const auto error = value.get_object().get(object))
    fail_type(value, place, "an object", ondemand::json_type::object, error);
  return object;
}

std::string_view field_key(ondemand::field& field, const JsonPlace& place) {
  std::string_view key;
  if (const auto error = field.unescaped_key().get(key)) fail_json(place, error);
  return key;
}

}  // namespace rtseg::plugins::coco
