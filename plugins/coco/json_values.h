#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace rtseg::plugins::coco {

namespace ondemand = simdjson::ondemand;

/// Where a value sits in an annotation file, for messages: "train/_annotations.coco.json:
/// annotations[12].bbox". Built from views; the text is only assembled when something fails.
struct JsonPlace {
  std::string_view file;
  std::string_view array;   ///< "images", "annotations", "categories" (empty at the top level)
  std::int64_t index = -1;  ///< element of `array` (-1: the array itself)
  std::string_view field;   ///< field of that element (empty: the element)

  JsonPlace at(std::string_view field_name) const {
    JsonPlace place = *this;
    place.field = field_name;
    return place;
  }
  std::string describe() const;  ///< "annotations[12].bbox"
};

/// Throws sdk::DataError "<file>: <place>: <problem>".
[[noreturn]] void fail_at(const JsonPlace& place, const std::string& problem);
/// Throws for a simdjson error code met at `place` ("invalid JSON: ...").
[[noreturn]] void fail_json(const JsonPlace& place, simdjson::error_code error);

/// "an array", "a string", ... of the value, for "expected X, got Y" messages.
std::string json_type_name(ondemand::value& value);

/// An integer; integral floats (3.0) are accepted because some exporters write them.
std::int64_t read_integer(ondemand::value& value, const JsonPlace& place);
double read_number(ondemand::value& value, const JsonPlace& place);
std::string_view read_string(ondemand::value& value, const JsonPlace& place);
/// COCO's `iscrowd`: 0/1 or a boolean.
bool read_flag(ondemand::value& value, const JsonPlace& place);
ondemand::array read_array(ondemand::value& value, const JsonPlace& place);
ondemand::object read_object(ondemand::value& value, const JsonPlace& place);

/// The key of an object field (unescaped).
std::string_view field_key(ondemand::field& field, const JsonPlace& place);

/// Takes the next element of an ondemand iteration, failing at `place` on a parse error.
template <class T>
T take(simdjson::simdjson_result<T>&& result, const JsonPlace& place) {
  T out;
  if (const simdjson::error_code error = std::move(result).get(out)) fail_json(place, error);
  return out;
}

}  // namespace rtseg::plugins::coco
