#include "rtseg/sdk/indexed_dataset.h"

#include "rtseg/sdk/errors.h"

namespace rtseg::sdk {

IndexedDataset::IndexedDataset(std::string kind, std::vector<Category> categories, std::vector<IndexedSplit> splits)
    : kind_(std::move(kind)), categories_(std::move(categories)), splits_(std::move(splits)) {}

IndexedDataset::~IndexedDataset() = default;

std::vector<std::string> IndexedDataset::splits() const {
  std::vector<std::string> names;
  for (const IndexedSplit& split : splits_) names.push_back(split.name);
  return names;
}

const IndexedSplit& IndexedDataset::split(std::string_view name) const {
  for (const IndexedSplit& split : splits_) {
    if (split.name == name) return split;
  }
  std::string known;
  for (const IndexedSplit& split : splits_) known += (known.empty() ? "" : ", ") + split.name;
  throw DataError(kind_ + " dataset: no split \"" + std::string(name) + "\" (it has: " + known + ")");
}

const IndexedImage& IndexedDataset::image(std::string_view split_name, std::int64_t index) const {
  const IndexedSplit& found = split(split_name);
  if (index < 0 || index >= static_cast<std::int64_t>(found.images.size())) {
    throw DataError(kind_ + " dataset: image " + std::to_string(index) + " of split \"" + found.name +
                    "\" is out of range (size " + std::to_string(found.images.size()) + ")");
  }
  return found.images[static_cast<std::size_t>(index)];
}

std::int64_t IndexedDataset::size(std::string_view split_name) const {
  return static_cast<std::int64_t>(split(split_name).images.size());
}

ImageRecord IndexedDataset::record(std::string_view split_name, std::int64_t index) const {
  return image(split_name, index).record;
}

std::vector<Annotation> IndexedDataset::annotations(std::string_view split_name, std::int64_t index) const {
  return image(split_name, index).annotations;
}

Sample IndexedDataset::load(std::string_view split_name, std::int64_t index) const {
  const IndexedImage& found = image(split_name, index);
  Sample sample;
  sample.image = decode(found.record);
  sample.record = found.record;
  sample.annotations = found.annotations;
  return sample;
}

std::vector<DataProblem> IndexedDataset::problems(std::string_view split_name) const {
  return split(split_name).problems;
}

}  // namespace rtseg::sdk
