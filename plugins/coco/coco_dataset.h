#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coco_file.h"
#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::coco {

/// One split, ready to serve: images sorted by id, `record.file` the full path, labels final.
struct CocoSplit {
  std::string name;
  std::vector<CocoImage> images;
  std::vector<sdk::DataProblem> problems;
};

/// A COCO dataset held in memory (annotations only; images are decoded by load()). Immutable
/// after construction, so every const function is safe to call from several threads.
class CocoDataset final : public sdk::Dataset {
 public:
  CocoDataset(std::vector<sdk::Category> categories, std::vector<CocoSplit> splits);

  std::vector<sdk::Category> categories() const override { return categories_; }
  std::vector<std::string> splits() const override;
  std::int64_t size(std::string_view split) const override;
  sdk::ImageRecord record(std::string_view split, std::int64_t index) const override;
  std::vector<sdk::Annotation> annotations(std::string_view split,
                                           std::int64_t index) const override;
  sdk::Sample load(std::string_view split, std::int64_t index) const override;
  std::vector<sdk::DataProblem> problems(std::string_view split) const override;

 private:
  const CocoSplit& split(std::string_view name) const;
  const CocoImage& image(std::string_view split, std::int64_t index) const;

  std::vector<sdk::Category> categories_;
  std::vector<CocoSplit> splits_;
};

/// Builds the dataset: finds the splits (see layout.h), reads each annotation file, checks that
/// the splits agree on their categories, maps category ids to contiguous labels (sorted by id,
/// names kept) after leaving out Roboflow's root category, and, with image_check = "header",
/// leaves out images whose header cannot be read or does not match.
std::unique_ptr<CocoDataset> make_coco(CocoOptions options, const sdk::BuildContext& context);

}  // namespace rtseg::plugins::coco
