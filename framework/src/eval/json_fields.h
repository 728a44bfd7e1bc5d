#pragma once

// Reading COCO JSON (ground truth and results) with simdjson's DOM: typed field access whose
// errors name the file, the entry and the field.

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework::eval::json {

namespace dom = simdjson::dom;

/// Where a value is: "gt.json: annotations[12]" or "results.json: entry 12".
struct Place {
  std::string_view file;
  std::string_view array;   ///< "annotations", ...; empty: results' top-level list ("entry N")
  std::int64_t index = -1;  ///< -1: the top level
  std::string describe(std::string_view field = {}) const;
};

/// Throws sdk::DataError "<file>: <place>[.field]: <problem>".
[[noreturn]] void fail(const Place& place, std::string_view field, const std::string& problem);

/// Parses `json` (copied into padding) or the file; DataError naming the file when invalid.
dom::element parse_text(dom::parser& parser, std::string_view json, const std::string& file_name);
dom::element parse_file(dom::parser& parser, const std::filesystem::path& file,
                        const std::string& file_name);

/// The field, or nullopt when absent (a present `null` is returned as is).
std::optional<dom::element> field(dom::object object, std::string_view key);
dom::object as_object(dom::element value, const Place& place, std::string_view field = {});
dom::array as_array(dom::element value, const Place& place, std::string_view field = {});
/// An integer; integral floats (3.0) are accepted as some exporters write them.
std::int64_t as_integer(dom::element value, const Place& place, std::string_view field);
double as_number(dom::element value, const Place& place, std::string_view field);
std::string_view as_string(dom::element value, const Place& place, std::string_view field);
/// 0/1 or a boolean (`iscrowd`).
bool as_flag(dom::element value, const Place& place, std::string_view field);
/// Four numbers x, y, w, h.
std::array<double, 4> as_box(dom::element value, const Place& place, std::string_view field);

/// A COCO `segmentation`: a list of polygons, {size, counts: compressed string}, or
/// {size, counts: [uncompressed runs]}; RLEs are checked (runs add up to h * w).
sdk::Segmentation as_segmentation(dom::element value, const Place& place);

}  // namespace rtseg::framework::eval::json
