#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/indexed_dataset.h"

namespace rtseg::plugins::yolo_seg {

/// An image and its annotations; width/height: the image as shown (EXIF orientation applied).
using YoloImage = sdk::IndexedImage;
using YoloSplit = sdk::IndexedSplit;

/// A YOLO segmentation dataset held in memory.
class YoloSegDataset final : public sdk::IndexedDataset {
 public:
  YoloSegDataset(std::vector<sdk::Category> categories, std::vector<YoloSplit> splits)
      : IndexedDataset("yolo_seg", std::move(categories), std::move(splits)) {}

 private:
  /// Decodes with EXIF orientation applied (Ultralytics' labels are relative to the image as
  /// shown); an image whose size changed since the dataset was built is an error.
  at::Tensor decode(const sdk::ImageRecord& record) const override;
};

/// Builds the dataset from data.yaml (see data_yaml.h, yolo_layout.h).
///
/// YOLO labels carry no image sizes, so every image's header is read when the dataset is built
/// (in parallel; a header read costs a few kilobytes of I/O, about a second per 10,000 images on a
/// local disk). This also finds missing and corrupt images early: they are left out and listed in
/// problems(), as Ultralytics does. Label files are read at the same time. Image ids are 1..N in
/// path order within a split; annotation ids are 1..M over the whole dataset.
std::unique_ptr<YoloSegDataset> make_yolo_seg(YoloSegOptions options,
                                              const sdk::BuildContext& context);

}  // namespace rtseg::plugins::yolo_seg
