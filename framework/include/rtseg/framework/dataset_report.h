#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework {

/// What `rtseg data check` finds in one split.
struct SplitReport {
  std::string split;
  std::int64_t images = 0;
  std::int64_t annotations = 0;       ///< not crowd
  std::int64_t crowd = 0;
  std::int64_t images_without_annotations = 0;
  std::vector<std::int64_t> per_class;  ///< annotations (not crowd) per label
  std::vector<sdk::DataProblem> problems;  ///< skipped annotations, and unreadable images when decoded
  std::int64_t decoded = 0;             ///< images decoded and checked
};

struct DatasetReport {
  std::vector<sdk::Category> categories;
  std::vector<SplitReport> splits;
  std::int64_t problem_count() const;
};

/// Counts a dataset's splits; with `decode_images`, decodes every image (on `threads` threads) and
/// reports those that cannot be read or do not have the size the annotations say.
DatasetReport check_dataset(const sdk::Dataset& dataset, bool decode_images, std::int64_t threads);

/// Human-readable report (problems: the first `max_problems` of each split, then a count).
void print_report(std::ostream& out, const DatasetReport& report, std::size_t max_problems = 20);

}  // namespace rtseg::framework
