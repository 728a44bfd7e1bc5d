#include "annotation_reader.h"

#include <limits>

namespace rtseg::plugins::coco {
namespace {

std::vector<double> read_numbers(ondemand::value& value, const JsonPlace& place) {
  std::vector<double> numbers;
  for (auto element : read_array(value, place)) {
    ondemand::value number = take(std::move(element), place);
    numbers.push_back(read_number(number, place));
  }
  return numbers;
}

// "segmentation": a list of polygons, or (tolerated, reported later) one flat polygon.
void read_polygons(ondemand::value& value, const JsonPlace& place, RawAnnotation& raw) {
  std::vector<double> flat;
  for (auto element_result : read_array(value, place)) {
    ondemand::value element = take(std::move(element_result), place);
    ondemand::json_type type;
    if (const auto error = element.type().get(type)) fail_json(place, error);
    if (type == ondemand::json_type::array && flat.empty()) {
      raw.annotation.segmentation.polygons.push_back(read_numbers(element, place));
    } else if (type == ondemand::json_type::number &&
               raw.annotation.segmentation.polygons.empty()) {
      flat.push_back(read_number(element, place));
    } else {
      fail_at(place, "expected a list of polygons (lists of numbers) or an RLE object, found " +
                         json_type_name(element) + " in the list");
    }
  }
  raw.flat_polygon = !flat.empty();
}

RawRle read_rle(ondemand::value& value, const JsonPlace& place) {
  RawRle rle;
  bool has_size = false;
  bool has_counts = false;
  for (auto field_result : read_object(value, place)) {
    ondemand::field field = take(std::move(field_result), place);
    const std::string_view key = field_key(field, place);
    ondemand::value& item = field.value();
    if (key == "size") {
      const JsonPlace size_place = place.at("segmentation.size");
      std::vector<std::int64_t> size;
      for (auto element : read_array(item, size_place)) {
        ondemand::value number = take(std::move(element), size_place);
        size.push_back(read_integer(number, size_place));
      }
      if (size.size() != 2)
        fail_at(size_place,
                "expected [height, width], got " + std::to_string(size.size()) + " numbers");
      rle.height = size[0];
      rle.width = size[1];
      has_size = true;
    } else if (key == "counts") {
      const JsonPlace counts_place = place.at("segmentation.counts");
      ondemand::json_type type;
      if (const auto error = item.type().get(type)) fail_json(counts_place, error);
      if (type == ondemand::json_type::string) {
        rle.compressed = true;
        rle.text = std::string(read_string(item, counts_place));
      } else {
        for (auto element : read_array(item, counts_place)) {
          ondemand::value number = take(std::move(element), counts_place);
          const std::int64_t count = read_integer(number, counts_place);
          if (count < 0 || count > std::numeric_limits<std::uint32_t>::max()) {
            rle.counts_out_of_range = true;
          } else {
            rle.counts.push_back(static_cast<std::uint32_t>(count));
          }
        }
      }
      has_counts = true;
    }
  }
  if (!has_size) fail_at(place, "an RLE needs \"size\": [height, width]");
  if (!has_counts) fail_at(place, "an RLE needs \"counts\"");
  return rle;
}

void read_segmentation(ondemand::value& value, const JsonPlace& place, RawAnnotation& raw) {
  ondemand::json_type type;
  if (const auto error = value.type().get(type)) fail_json(place, error);
  switch (type) {
    case ondemand::json_type::null:
      return;  // no outline: a box-only annotation
    case ondemand::json_type::array:
      read_polygons(value, place, raw);
      return;
    case ondemand::json_type::object:
      raw.rle = std::make_unique<RawRle>(read_rle(value, place));
      return;
    default:
      fail_at(place, "expected a list of polygons or an RLE object, got " + json_type_name(value));
  }
}

std::array<double, 4> read_box(ondemand::value& value, const JsonPlace& place) {
  const std::vector<double> numbers = read_numbers(value, place);
  if (numbers.size() != 4) {
    fail_at(place,
            "expected [x, y, width, height], got " + std::to_string(numbers.size()) + " numbers");
  }
  return {numbers[0], numbers[1], numbers[2], numbers[3]};
}

}  // namespace

RawAnnotation read_annotation(ondemand::value& value, const JsonPlace& place) {
  RawAnnotation raw;
  raw.index = place.index;
  bool has_id = false, has_image = false, has_category = false, has_box = false;
  for (auto field_result : read_object(value, place)) {
    ondemand::field field = take(std::move(field_result), place);
    const std::string_view key = field_key(field, place);
    ondemand::value& item = field.value();
    if (key == "id") {
      raw.annotation.id = read_integer(item, place.at("id"));
      has_id = true;
    } else if (key == "image_id") {
      raw.image_id = read_integer(item, place.at("image_id"));
      has_image = true;
    } else if (key == "category_id") {
      raw.category_id = read_integer(item, place.at("category_id"));
      has_category = true;
    } else if (key == "bbox") {
      raw.annotation.box_xywh = read_box(item, place.at("bbox"));
      has_box = true;
    } else if (key == "area") {
      raw.area = read_number(item, place.at("area"));
    } else if (key == "iscrowd") {
      raw.annotation.is_crowd = read_flag(item, place.at("iscrowd"));
    } else if (key == "segmentation") {
      read_segmentation(item, place.at("segmentation"), raw);
    }
  }
  if (!has_id) fail_at(place, "missing \"id\"");
  if (!has_image) fail_at(place, "missing \"image_id\"");
  if (!has_category) fail_at(place, "missing \"category_id\"");
  if (!has_box) fail_at(place, "missing \"bbox\"");
  return raw;
}

}  // namespace rtseg::plugins::coco
