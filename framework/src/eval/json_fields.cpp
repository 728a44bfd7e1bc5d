#include "json_fields.h"

#include <cmath>
#include <limits>
#include <vector>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework::eval::json {
namespace {

const char* type_name(dom::element value) {
  switch (value.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "an unknown value";
}

[[noreturn]] void fail_type(dom::element value, const Place& place, std::string_view field,
                            const char* expected) {
  fail(place, field, std::string("expected ") + expected + ", got " + type_name(value));
}

}  // namespace

std::string Place::describe(std::string_view field) const {
  std::string text;
  if (index >= 0) {
    text = array.empty() ? "entry " + std::to_string(index)
                         : std::string(array) + "[" + std::to_string(index) + "]";
  } else {
    text = array.empty() ? "top level" : std::string(array);
  }
  if (!field.empty()) text += (index >= 0 && array.empty() ? ": " : ".") + std::string(field);
  return text;
}

void fail(const Place& place, std::string_view field, const std::string& problem) {
  throw sdk::DataError(std::string(place.file) + ": " + place.describe(field) + ": " + problem);
}

dom::element parse_text(dom::parser& parser, std::string_view json, const std::string& file_name) {
  dom::element root;
  if (const auto error = parser.parse(json.data(), json.size()).get(root)) {
    throw sdk::DataError(file_name + ": invalid JSON (" + simdjson::error_message(error) +
                         "); is the file truncated or not JSON?");
  }
  return root;
}

dom::element parse_file(dom::parser& parser, const std::filesystem::path& file,
                        const std::string& file_name) {
  simdjson::padded_string text;
  if (const auto error = simdjson::padded_string::load(file.string()).get(text)) {
    throw sdk::DataError(file_name + ": cannot read the file (" + simdjson::error_message(error) + ")");
  }
  return parse_text(parser, text, file_name);
}

std::optional<dom::element> field(dom::object object, std::string_view key) {
  dom::element value;
  if (object.at_key(key).get(value)) return std::nullopt;
  return value;
}

dom::object as_object(dom::element value, const Place& place, std::string_view field) {
  dom::object object;
  if (value.get_object().get(object)) fail_type(value, place, field, "an object");
  return object;
}

dom::array as_array(dom::element value, const Place& place, std::string_view field) {
  dom::array array;
  if (value.get_array().get(array)) fail_type(value, place, field, "an array");
  return array;
}

std::int64_t as_integer(dom::element value, const Place& place, std::string_view field) {
  std::int64_t integer = 0;
  if (!value.get_int64().get(integer)) return integer;
  double real = 0;
  if (value.get_double().get(real)) fail_type(value, place, field, "an integer");
  // 2^63 is exactly representable; anything at or beyond it does not fit an int64.
  if (!std::isfinite(real) || std::floor(real) != real || std::fabs(real) >= 9.2233720368547758e18) {
    fail(place, field, "expected an integer, got " + std::to_string(real));
  }
  return static_cast<std::int64_t>(real);
}

double as_number(dom::element value, const Place& place, std::string_view field) {
  double real = 0;
  if (value.get_double().get(real)) fail_type(value, place, field, "a number");
  return real;
}

std::string_view as_string(dom::element value, const Place& place, std::string_view field) {
  std::string_view text;
  if (value.get_string().get(text)) fail_type(value, place, field, "a string");
  return text;
}

bool as_flag(dom::element value, const Place& place, std::string_view field) {
  bool flag = false;
  if (!value.get_bool().get(flag)) return flag;
  const std::int64_t number = as_integer(value, place, field);
  if (number != 0 && number != 1) fail(place, field, "expected 0 or 1, got " + std::to_string(number));
  return number == 1;
}

std::array<double, 4> as_box(dom::element value, const Place& place, std::string_view field) {
  const dom::array array = as_array(value, place, field);
  if (array.size() != 4) {
    fail(place, field, "expected 4 numbers [x, y, w, h], got " + std::to_string(array.size()));
  }
  std::array<double, 4> box{};
  std::size_t i = 0;
  for (dom::element number : array) box[i++] = as_number(number, place, field);
  return box;
}

namespace {

sdk::RunLengths read_rle(dom::object object, const Place& place) {
  const auto size = field(object, "size");
  const auto counts = field(object, "counts");
  if (!size || !counts) fail(place, "segmentation", "an RLE needs \"size\" and \"counts\"");
  std::vector<std::int64_t> height_width;
  for (dom::element number : as_array(*size, place, "segmentation.size")) {
    height_width.push_back(as_integer(number, place, "segmentation.size"));
  }
  if (height_width.size() != 2) fail(place, "segmentation.size", "expected [height, width]");
  std::string_view compressed;
  std::vector<std::uint32_t> runs;
  const bool is_compressed = counts->is_string();
  if (is_compressed) {
    compressed = as_string(*counts, place, "segmentation.counts");
  } else {
    for (dom::element run : as_array(*counts, place, "segmentation.counts")) {
      const std::int64_t value = as_integer(run, place, "segmentation.counts");
      if (value < 0 || value > std::numeric_limits<std::uint32_t>::max()) {
        fail(place, "segmentation.counts", "run " + std::to_string(value) + " is out of range");
      }
      runs.push_back(static_cast<std::uint32_t>(value));
    }
  }
  try {
    if (is_compressed) return sdk::masks::from_string(compressed, height_width[0], height_width[1]);
    return sdk::masks::from_counts(std::move(runs), height_width[0], height_width[1]);
  } catch (const sdk::DataError& error) {
    fail(place, "segmentation", error.what());
  }
}

}  // namespace

sdk::Segmentation as_segmentation(dom::element value, const Place& place) {
  sdk::Segmentation segmentation;
  if (value.is_object()) {
    segmentation.rle = read_rle(as_object(value, place, "segmentation"), place);
    return segmentation;
  }
  if (!value.is_array()) fail_type(value, place, "segmentation", "polygons or an RLE object");
  for (dom::element polygon : as_array(value, place, "segmentation")) {
    std::vector<double> xy;
    for (dom::element number : as_array(polygon, place, "segmentation")) {
      xy.push_back(as_number(number, place, "segmentation"));
    }
    segmentation.polygons.push_back(std::move(xy));
  }
  return segmentation;
}

}  // namespace rtseg::framework::eval::json
