#include "coco_json.h"

#include <deque>
#include <utility>
#include <vector>

#include "annotation_reader.h"
#include "coco_assemble.h"
#include "json_values.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {
namespace {

// Calls `read_element(value, place)` for each element of the top-level array `name`.
template <class ReadElement>
void for_each_element(ondemand::value& array_value, const JsonPlace& array_place,
                      ReadElement&& read_element) {
  JsonPlace place = array_place;
  place.index = 0;
  for (auto element_result : read_array(array_value, array_place)) {
    ondemand::value element = take(std::move(element_result), place);
    read_element(element, place);
    ++place.index;
  }
}

RawImage read_image(ondemand::value& value, const JsonPlace& place) {
  RawImage image;
  image.index = place.index;
  bool has_id = false, has_file = false, has_width = false, has_height = false;
  for (auto field_result : read_object(value, place)) {
    ondemand::field field = take(std::move(field_result), place);
    const std::string_view key = field_key(field, place);
    ondemand::value& item = field.value();
    if (key == "id") {
      image.record.id = read_integer(item, place.at("id"));
      has_id = true;
    } else if (key == "file_name") {
      image.record.file = std::string(read_string(item, place.at("file_name")));
      has_file = true;
    } else if (key == "width") {
      image.record.width = read_integer(item, place.at("width"));
      has_width = true;
    } else if (key == "height") {
      image.record.height = read_integer(item, place.at("height"));
      has_height = true;
    }
  }
  if (!has_id) fail_at(place, "missing \"id\"");
  if (!has_file) fail_at(place, "missing \"file_name\"");
  if (!has_width) fail_at(place, "missing \"width\"");
  if (!has_height) fail_at(place, "missing \"height\"");
  if (image.record.file.empty()) fail_at(place.at("file_name"), "is empty");
  if (image.record.width <= 0 || image.record.height <= 0) {
    fail_at(place, "width and height must be positive, got " + std::to_string(image.record.width) +
                       " x " + std::to_string(image.record.height));
  }
  return image;
}

RawCategory read_category(ondemand::value& value, const JsonPlace& place) {
  RawCategory category;
  category.index = place.index;
  bool has_id = false, has_name = false;
  for (auto field_result : read_object(value, place)) {
    ondemand::field field = take(std::move(field_result), place);
    const std::string_view key = field_key(field, place);
    ondemand::value& item = field.value();
    if (key == "id") {
      category.category.id = read_integer(item, place.at("id"));
      has_id = true;
    } else if (key == "name") {
      category.category.name = std::string(read_string(item, place.at("name")));
      has_name = true;
    } else if (key == "supercategory") {
      ondemand::json_type type;
      if (const auto error = item.type().get(type)) fail_json(place, error);
      if (type != ondemand::json_type::null) {
        category.category.supercategory = std::string(read_string(item, place.at("supercategory")));
      }
    }
  }
  if (!has_id) fail_at(place, "missing \"id\"");
  if (!has_name) fail_at(place, "missing \"name\"");
  return category;
}

// What the file holds, before cross-checks.
struct RawFile {
  std::vector<RawImage> images;
  std::vector<RawCategory> categories;
  std::deque<RawAnnotation> annotations;
};

RawFile parse_padded(const simdjson::padded_string& json, const std::string& file_name) {
  const JsonPlace top{file_name, "", -1, ""};
  ondemand::parser parser;
  ondemand::document document = take(parser.iterate(json), top);
  ondemand::object root;
  if (const auto error = document.get_object().get(root)) {
    if (error != simdjson::INCORRECT_TYPE) fail_json(top, error);
    fail_at(top, "expected a JSON object with \"images\", \"annotations\" and \"categories\"");
  }

  RawFile raw;
  bool has_images = false, has_annotations = false, has_categories = false;
  for (auto field_result : root) {
    ondemand::field field = take(std::move(field_result), top);
    const std::string_view key = field_key(field, top);
    ondemand::value& item = field.value();
    // A repeated key would silently merge or replace lists; refuse it.
    auto first_time = [&](bool& seen, std::string_view name) {
      if (seen) fail_at(JsonPlace{file_name, name, -1, ""}, "appears twice in the file");
      seen = true;
    };
    if (key == "images") {
      first_time(has_images, "images");
      for_each_element(
          item, {file_name, "images", -1, ""},
          [&](ondemand::value& v, const JsonPlace& p) { raw.images.push_back(read_image(v, p)); });
    } else if (key == "categories") {
      first_time(has_categories, "categories");
      for_each_element(item, {file_name, "categories", -1, ""},
                       [&](ondemand::value& v, const JsonPlace& p) {
                         raw.categories.push_back(read_category(v, p));
                       });
    } else if (key == "annotations") {
      first_time(has_annotations, "annotations");
      for_each_element(item, {file_name, "annotations", -1, ""},
                       [&](ondemand::value& v, const JsonPlace& p) {
                         raw.annotations.push_back(read_annotation(v, p));
                       });
    }
  }
  // Anything but the end of input after the closing brace is trailing garbage.
  const char* after = nullptr;
  if (!document.current_location().get(after)) {
    fail_at(top, "unexpected content after the top-level object");
  }
  if (!has_images) fail_at(top, "missing \"images\"");
  if (!has_annotations) fail_at(top, "missing \"annotations\"");
  if (!has_categories) fail_at(top, "missing \"categories\"");
  return raw;
}

CocoFile assemble(const std::string& file_name, RawFile raw) {
  return assemble_coco_file(file_name, std::move(raw.images), std::move(raw.categories),
                            std::move(raw.annotations));
}

}  // namespace

CocoFile parse_coco_json(std::string_view text, const std::string& file_name) {
  const simdjson::padded_string json(text);
  return assemble(file_name, parse_padded(json, file_name));
}

CocoFile load_coco_file(const std::filesystem::path& path, const std::string& file_name) {
  RawFile raw;
  {  // the file's text and the parser are released before the cross-checks
    simdjson::padded_string json;
    if (const auto error = simdjson::padded_string::load(path.string()).get(json)) {
      throw sdk::DataError(file_name + ": cannot read " + path.string() + " (" +
                           simdjson::error_message(error) + ")");
    }
    raw = parse_padded(json, file_name);
  }
  return assemble(file_name, std::move(raw));
}

}  // namespace rtseg::plugins::coco
