// Detections as pycocotools' loadRes prepares them: from a results file or from memory.
#include "rtseg/framework/eval/results.h"

#include <unordered_map>
#include <unordered_set>

#include "json_fields.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework::eval {
namespace {

using json::Place;
namespace dom = simdjson::dom;

// A "bbox" that is present and not [] (loadRes treats [] as no box).
bool has_box(dom::object object, const Place& place) {
  const auto box = json::field(object, "bbox");
  return box && !(box->is_array() && json::as_array(*box, place, "bbox").size() == 0);
}

// What decides every result's area and box: loadRes looks at the first result only.
enum class Branch { kBox, kSegmentation };

EvalDetection read_detection(dom::element value, const Place& place, Branch branch,
                             const std::unordered_set<std::int64_t>& image_ids,
                             const std::unordered_set<std::int64_t>& category_ids) {
  const dom::object object = json::as_object(value, place);
  auto require = [&](std::string_view key) {
    const auto found = json::field(object, key);
    if (!found) json::fail(place, "", "missing \"" + std::string(key) + "\"");
    return *found;
  };
  EvalDetection detection;
  detection.image_id = json::as_integer(require("image_id"), place, "image_id");
  if (!image_ids.count(detection.image_id)) {
    json::fail(place, "", "image_id " + std::to_string(detection.image_id) + " is not in the GT");
  }
  detection.category_id = json::as_integer(require("category_id"), place, "category_id");
  if (!category_ids.count(detection.category_id)) {
    json::fail(place, "", "category_id " + std::to_string(detection.category_id) + " is not in the GT");
  }
  detection.score = json::as_number(require("score"), place, "score");
  if (branch == Branch::kBox) {
    const auto box = json::field(object, "bbox");
    if (!box) json::fail(place, "", "missing \"bbox\" (the first result has one, so every result needs one)");
    detection.box_xywh = json::as_box(*box, place, "bbox");
    detection.area = detection.box_xywh[2] * detection.box_xywh[3];
    if (const auto segmentation = json::field(object, "segmentation")) {
      detection.segmentation = json::as_segmentation(*segmentation, place);
    }
    return detection;
  }
  const auto segmentation = json::field(object, "segmentation");
  if (!segmentation) {
    json::fail(place, "", "missing \"segmentation\" (the first result has no bbox, so every result needs a mask)");
  }
  detection.segmentation = json::as_segmentation(*segmentation, place);
  if (has_box(object, place)) detection.box_xywh = json::as_box(*json::field(object, "bbox"), place, "bbox");
  return detection;
}

}  // namespace

const char* iou_type_name(IouType type) { return type == IouType::kBox ? "bbox" : "segm"; }

EvalResults parse_results(std::string_view text, const std::string& file_name, const GroundTruth& truth) {
  dom::parser parser;
  const dom::element root = json::parse_text(parser, text, file_name);
  const Place top{file_name, "", -1};
  dom::array list;
  if (root.get_array().get(list)) {
    throw sdk::DataError(file_name + ": expected a JSON list of results (is this a GT file?)");
  }
  std::unordered_set<std::int64_t> image_ids, category_ids;
  std::unordered_map<std::int64_t, const GtImage*> images;
  for (const GtImage& image : truth.images) {
    image_ids.insert(image.id);
    images.emplace(image.id, &image);
  }
  for (const GtCategory& category : truth.categories) category_ids.insert(category.id);

  EvalResults results;
  results.detections.reserve(list.size());
  Branch branch = Branch::kBox;
  Place place = top;
  place.index = 0;
  for (dom::element value : list) {
    if (place.index == 0) {
      const dom::object first = json::as_object(value, place);
      const bool box_given = has_box(first, place);
      if (!box_given && !json::field(first, "segmentation")) {
        json::fail(place, "", "a result needs \"bbox\" or \"segmentation\"");
      }
      branch = box_given ? Branch::kBox : Branch::kSegmentation;
    }
    EvalDetection detection = read_detection(value, place, branch, image_ids, category_ids);
    if (branch == Branch::kSegmentation) {
      sdk::Segmentation& segmentation = detection.segmentation;
      if (!segmentation.polygons.empty()) {
        // pycocotools only takes RLEs here; polygons are accepted, rasterised at the image's size.
        const GtImage* image = images.at(detection.image_id);
        try {
          segmentation.rle = sdk::masks::from_polygons(segmentation.polygons, image->height, image->width);
        } catch (const sdk::DataError& error) {
          json::fail(place, "segmentation", error.what());
        }
        segmentation.polygons.clear();
      }
      detection.area = static_cast<double>(sdk::masks::area(segmentation.rle));
      if (!has_box(json::as_object(value, place), place)) {
        detection.box_xywh = sdk::masks::bbox(segmentation.rle);
      }
    }
    results.detections.push_back(std::move(detection));
    ++place.index;
  }
  return results;
}

EvalResults load_results(const std::filesystem::path& file, const GroundTruth& truth) {
  simdjson::padded_string text;
  const std::string name = file.filename().string();
  if (const auto error = simdjson::padded_string::load(file.string()).get(text)) {
    throw sdk::DataError(name + ": cannot read the file (" + simdjson::error_message(error) + ")");
  }
  return parse_results(text, name, truth);
}

EvalResults results_from(const std::vector<Detection>& detections,
                         const std::vector<sdk::Category>& categories, IouType iou_type) {
  EvalResults results;
  results.detections.reserve(detections.size());
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const Detection& source = detections[i];
    if (source.label < 0 || source.label >= static_cast<std::int64_t>(categories.size())) {
      throw sdk::DataError("detection " + std::to_string(i) + " (image " + std::to_string(source.image_id) +
                           "): label " + std::to_string(source.label) + " is not one of the " +
                           std::to_string(categories.size()) + " categories");
    }
    EvalDetection detection;
    detection.image_id = source.image_id;
    detection.category_id = categories[static_cast<std::size_t>(source.label)].id;
    detection.score = static_cast<double>(source.score);
    detection.box_xywh = source.box_xywh;
    if (iou_type == IouType::kSegm) {
      if (!source.mask) {
        throw sdk::DataError("detection " + std::to_string(i) + " (image " + std::to_string(source.image_id) +
                             ") has no mask; segm evaluation needs one per detection");
      }
      detection.segmentation.rle = *source.mask;
      detection.area = static_cast<double>(sdk::masks::area(*source.mask));
    } else {
      detection.area = source.box_xywh[2] * source.box_xywh[3];
    }
    results.detections.push_back(std::move(detection));
  }
  return results;
}

}  // namespace rtseg::framework::eval
