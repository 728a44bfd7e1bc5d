// Reading a COCO annotation file into eval::GroundTruth.
#include <unordered_set>

#include "json_fields.h"
#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::eval {
namespace {

using json::Place;
namespace dom = simdjson::dom;

// The required field, or a "missing" error naming it.
dom::element require(dom::object object, std::string_view key, const Place& place) {
  const auto value = json::field(object, key);
  if (!value) json::fail(place, "", "missing \"" + std::string(key) + "\"");
  return *value;
}

GtImage read_image(dom::element value, const Place& place) {
  const dom::object object = json::as_object(value, place);
  GtImage image;
  image.id = json::as_integer(require(object, "id", place), place, "id");
  if (const auto height = json::field(object, "height")) image.height = json::as_integer(*height, place, "height");
  if (const auto width = json::field(object, "width")) image.width = json::as_integer(*width, place, "width");
  if (image.height < 0 || image.width < 0) json::fail(place, "", "negative width or height");
  return image;
}

GtCategory read_category(dom::element value, const Place& place) {
  const dom::object object = json::as_object(value, place);
  GtCategory category;
  category.id = json::as_integer(require(object, "id", place), place, "id");
  if (const auto name = json::field(object, "name")) category.name = std::string(json::as_string(*name, place, "name"));
  return category;
}

GtAnnotation read_annotation(dom::element value, const Place& place) {
  const dom::object object = json::as_object(value, place);
  GtAnnotation annotation;
  annotation.id = json::as_integer(require(object, "id", place), place, "id");
  annotation.image_id = json::as_integer(require(object, "image_id", place), place, "image_id");
  annotation.category_id = json::as_integer(require(object, "category_id", place), place, "category_id");
  // pycocotools reads `area` for every GT (KeyError without it) and never recomputes it.
  annotation.area = json::as_number(require(object, "area", place), place, "area");
  if (const auto crowd = json::field(object, "iscrowd")) annotation.is_crowd = json::as_flag(*crowd, place, "iscrowd");
  if (const auto box = json::field(object, "bbox")) {
    annotation.box_xywh = json::as_box(*box, place, "bbox");
    annotation.has_box = true;
  }
  if (const auto segmentation = json::field(object, "segmentation")) {
    annotation.segmentation = json::as_segmentation(*segmentation, place);
  }
  return annotation;
}

template <class T, class Read>
std::vector<T> read_list(dom::object root, std::string_view key, const std::string& file_name,
                         Read&& read) {
  const Place top{file_name, key, -1};
  std::vector<T> items;
  const dom::array array = json::as_array(require(root, key, Place{file_name, "", -1}), top);
  items.reserve(array.size());
  Place place = top;
  place.index = 0;
  std::unordered_set<std::int64_t> ids;
  for (dom::element element : array) {
    items.push_back(read(element, place));
    if (!ids.insert(items.back().id).second) {
      json::fail(place, "id", "id " + std::to_string(items.back().id) + " appears twice in \"" +
                                  std::string(key) + "\"");
    }
    ++place.index;
  }
  return items;
}

GroundTruth read_root(dom::element root_value, const std::string& file_name) {
  dom::object root;
  if (root_value.get_object().get(root)) {
    throw sdk::DataError(file_name + ": expected a JSON object with \"images\", \"annotations\" and "
                         "\"categories\" (is this a results file?)");
  }
  GroundTruth truth;
  truth.source = file_name;
  truth.images = read_list<GtImage>(root, "images", file_name, read_image);
  truth.categories = read_list<GtCategory>(root, "categories", file_name, read_category);
  truth.annotations = read_list<GtAnnotation>(root, "annotations", file_name, read_annotation);
  return truth;
}

}  // namespace

GroundTruth parse_ground_truth(std::string_view text, const std::string& file_name) {
  dom::parser parser;
  return read_root(json::parse_text(parser, text, file_name), file_name);
}

GroundTruth load_ground_truth(const std::filesystem::path& file) {
  dom::parser parser;
  const std::string name = file.filename().string();
  return read_root(json::parse_file(parser, file, name), name);
}

GroundTruth ground_truth_from(const sdk::Dataset& dataset, std::string_view split) {
  GroundTruth truth;
  truth.source = "dataset split '" + std::string(split) + "'";
  for (const sdk::Category& category : dataset.categories()) {
    truth.categories.push_back(GtCategory{category.id, category.name});
  }
  const std::int64_t count = dataset.size(split);
  truth.images.reserve(static_cast<std::size_t>(count));
  for (std::int64_t index = 0; index < count; ++index) {
    const sdk::ImageRecord record = dataset.record(split, index);
    truth.images.push_back(GtImage{record.id, record.height, record.width});
    for (sdk::Annotation& source : dataset.annotations(split, index)) {
      if (source.label < 0 || source.label >= static_cast<std::int64_t>(truth.categories.size())) {
        throw sdk::DataError(truth.source + ": image " + std::to_string(record.id) + ": annotation " +
                             std::to_string(source.id) + " has label " + std::to_string(source.label) +
                             ", outside the dataset's categories");
      }
      GtAnnotation annotation;
      annotation.id = source.id;
      annotation.image_id = record.id;
      annotation.category_id = truth.categories[static_cast<std::size_t>(source.label)].id;
      annotation.box_xywh = source.box_xywh;
      annotation.has_box = true;
      annotation.area = source.area;
      annotation.is_crowd = source.is_crowd;
      annotation.segmentation = std::move(source.segmentation);
      truth.annotations.push_back(std::move(annotation));
    }
  }
  return truth;
}

}  // namespace rtseg::framework::eval
