#include "coco_dataset.h"

#include "image_loading.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {

CocoDataset::CocoDataset(std::vector<sdk::Category> categories, std::vector<CocoSplit> splits)
    : categories_(std::move(categories)), splits_(std::move(splits)) {}

std::vector<std::string> CocoDataset::splits() const {
  std::vector<std::string> names;
  for (const CocoSplit& split : splits_) names.push_back(split.name);
  return names;
}

const CocoSplit& CocoDataset::split(std::string_view name) const {
  for (const CocoSplit& split : splits_) {
    if (split.name == name) return split;
  }
  std::string known;
  for (const CocoSplit& split : splits_) known += (known.empty() ? "" : ", ") + split.name;
  throw sdk::DataError("coco dataset: no split \"" + std::string(name) + "\" (it has: " + known +
                       ")");
}

const CocoImage& CocoDataset::image(std::string_view split_name, std::int64_t index) const {
  const CocoSplit& found = split(split_name);
  if (index < 0 || index >= static_cast<std::int64_t>(found.images.size())) {
    throw sdk::DataError("coco dataset: image " + std::to_string(index) + " of split \"" +
                         found.name + "\" is out of range (size " +
                         std::to_string(found.images.size()) + ")");
  }
  return found.images[static_cast<std::size_t>(index)];
}

std::int64_t CocoDataset::size(std::string_view split_name) const {
  return static_cast<std::int64_t>(split(split_name).images.size());
}

sdk::ImageRecord CocoDataset::record(std::string_view split_name, std::int64_t index) const {
  return image(split_name, index).record;
}

std::vector<sdk::Annotation> CocoDataset::annotations(std::string_view split_name,
                                                      std::int64_t index) const {
  return image(split_name, index).annotations;
}

sdk::Sample CocoDataset::load(std::string_view split_name, std::int64_t index) const {
  const CocoImage& found = image(split_name, index);
  sdk::Sample sample;
  sample.image = decode_as_annotated(found.record);
  sample.record = found.record;
  sample.annotations = found.annotations;
  return sample;
}

std::vector<sdk::DataProblem> CocoDataset::problems(std::string_view split_name) const {
  return split(split_name).problems;
}

}  // namespace rtseg::plugins::coco
