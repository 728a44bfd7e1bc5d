#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::yolo_seg {

struct YoloImage {
  sdk::ImageRecord record;  ///< width/height: the image as shown (EXIF orientation applied)
  std::vector<sdk::Annotation> annotations;
};

struct YoloSplit {
  std::string name;
  std::vector<YoloImage> images;
  std::vector<sdk::DataProblem> problems;
};

/// A YOLO segmentation dataset held in memory. Immutable after construction: every const
/// function may be called from several threads.
class YoloSegDataset final : public sdk::Dataset {
 public:
  YoloSegDataset(std::vector<sdk::Category> categories, std::vector<YoloSplit> splits);

  std::vector<sdk::Category> categories() const override { return categories_; }
  std::vector<std::string> splits() const override;
  std::int64_t size(std::string_view split) const override;
  sdk::ImageRecord record(std::string_view split, std::int64_t index) const override;
  std::vector<sdk::Annotation> annotations(std::string_view split,
                                           std::int64_t index) const override;
  /// Decodes with EXIF orientation applied (Ultralytics' labels are relative to the image as
  /// shown).
  sdk::Sample load(std::string_view split, std::int64_t index) const override;
  std::vector<sdk::DataProblem> problems(std::string_view split) const override;

 private:
  const YoloSplit& split(std::string_view name) const;
  const YoloImage& image(std::string_view split, std::int64_t index) const;

  std::vector<sdk::Category> categories_;
  std::vector<YoloSplit> splits_;
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
