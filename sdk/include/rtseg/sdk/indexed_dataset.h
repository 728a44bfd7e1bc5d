#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// One image of an IndexedDataset: where it is and what is annotated on it.
struct IndexedImage {
  ImageRecord record;
  std::vector<Annotation> annotations;
};

/// One split of an IndexedDataset.
struct IndexedSplit {
  std::string name;
  std::vector<IndexedImage> images;
  std::vector<DataProblem> problems;  ///< what was left out while reading the split
};

/// A dataset whose annotations are read once and held in memory, as file-based formats (COCO,
/// YOLO) do: it answers every query from its index and leaves only decoding the pixels to the
/// format. Immutable after construction, so every const function is safe to call from several
/// loader threads at once.
class RTSEG_SDK_API IndexedDataset : public Dataset {
 public:
  /// `kind` names the dataset in errors ("coco dataset: no split ...").
  IndexedDataset(std::string kind, std::vector<Category> categories, std::vector<IndexedSplit> splits);
  ~IndexedDataset() override;

  std::vector<Category> categories() const final { return categories_; }
  std::vector<std::string> splits() const final;
  std::int64_t size(std::string_view split) const final;
  ImageRecord record(std::string_view split, std::int64_t index) const final;
  std::vector<Annotation> annotations(std::string_view split, std::int64_t index) const final;
  /// The pixels from decode(), with the record and annotations of the index.
  Sample load(std::string_view split, std::int64_t index) const final;
  std::vector<DataProblem> problems(std::string_view split) const final;

 protected:
  /// uint8 [height, width, 3] RGB pixels of an image, matching its record's size (else throw
  /// DataError naming the file).
  virtual at::Tensor decode(const ImageRecord& record) const = 0;

 private:
  const IndexedSplit& split(std::string_view name) const;
  const IndexedImage& image(std::string_view split, std::int64_t index) const;

  std::string kind_;
  std::vector<Category> categories_;
  std::vector<IndexedSplit> splits_;
};

}  // namespace rtseg::sdk
