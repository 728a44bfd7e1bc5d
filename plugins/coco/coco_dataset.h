#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coco_file.h"
#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/indexed_dataset.h"

namespace rtseg::plugins::coco {

/// One split, ready to serve: images sorted by id, `record.file` the full path, labels final.
using CocoSplit = sdk::IndexedSplit;

/// A COCO dataset held in memory (annotations only; load() decodes the images as annotated,
/// see image_loading.h).
class CocoDataset final : public sdk::IndexedDataset {
 public:
  CocoDataset(std::vector<sdk::Category> categories, std::vector<CocoSplit> splits)
      : IndexedDataset("coco", std::move(categories), std::move(splits)) {}

 private:
  at::Tensor decode(const sdk::ImageRecord& record) const override;
};

/// Builds the dataset: finds the splits (see layout.h), reads each annotation file, checks that
/// the splits agree on their categories, maps category ids to contiguous labels (sorted by id,
/// names kept) after leaving out Roboflow's root category, and, with image_check = "header",
/// leaves out images whose header cannot be read or does not match.
std::unique_ptr<CocoDataset> make_coco(CocoOptions options, const sdk::BuildContext& context);

}  // namespace rtseg::plugins::coco
