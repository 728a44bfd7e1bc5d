#include "yolo_dataset.h"

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::plugins::yolo_seg {

YoloSegDataset::YoloSegDataset(std::vector<sdk::Category> categories, std::vector<YoloSplit> splits)
    : categories_(std::move(categories)), splits_(std::move(splits)) {}

std::vector<std::string> YoloSegDataset::splits() const {
  std::vector<std::string> names;
  for (const YoloSplit& split : splits_) names.push_back(split.name);
  return names;
}

const YoloSplit& YoloSegDataset::split(std::string_view name) const {
  for (const YoloSplit& split : splits_) {
    if (split.name == name) return split;
  }
  std::string known;
  for (const YoloSplit& split : splits_) known += (known.empty() ? "" : ", ") + split.name;
  throw sdk::DataError("yolo_seg dataset: no split \"" + std::string(name) +
                       "\" (it has: " + known + ")");
}

const YoloImage& YoloSegDataset::image(std::string_view split_name, std::int64_t index) const {
  const YoloSplit& found = split(split_name);
  if (index < 0 || index >= static_cast<std::int64_t>(found.images.size())) {
    throw sdk::DataError("yolo_seg dataset: image " + std::to_string(index) + " of split \"" +
                         found.name + "\" is out of range (size " +
                         std::to_string(found.images.size()) + ")");
  }
  return found.images[static_cast<std::size_t>(index)];
}

std::int64_t YoloSegDataset::size(std::string_view split_name) const {
  return static_cast<std::int64_t>(split(split_name).images.size());
}

sdk::ImageRecord YoloSegDataset::record(std::string_view split_name, std::int64_t index) const {
  return image(split_name, index).record;
}

std::vector<sdk::Annotation> YoloSegDataset::annotations(std::string_view split_name,
                                                         std::int64_t index) const {
  return image(split_name, index).annotations;
}

sdk::Sample YoloSegDataset::load(std::string_view split_name, std::int64_t index) const {
  const YoloImage& found = image(split_name, index);
  sdk::Sample sample;
  sample.image = sdk::decode_image(found.record.file, /*apply_orientation=*/true).pixels;
  const std::int64_t height = sample.image.size(0), width = sample.image.size(1);
  if (width != found.record.width || height != found.record.height) {
    throw sdk::DataError(found.record.file + ": image is " + std::to_string(width) + " x " +
                         std::to_string(height) + " but was " + std::to_string(found.record.width) +
                         " x " + std::to_string(found.record.height) +
                         " when the dataset was built (changed on disk?)");
  }
  sample.record = found.record;
  sample.annotations = found.annotations;
  return sample;
}

std::vector<sdk::DataProblem> YoloSegDataset::problems(std::string_view split_name) const {
  return split(split_name).problems;
}

}  // namespace rtseg::plugins::yolo_seg
