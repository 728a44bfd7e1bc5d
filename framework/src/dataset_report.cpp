#include "rtseg/framework/dataset_report.h"

#include <algorithm>
#include <atomic>
#include <iomanip>
#include <mutex>
#include <thread>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

void decode_all(const sdk::Dataset& dataset, SplitReport& report, std::int64_t threads) {
  std::atomic<std::int64_t> next{0};
  std::mutex mutex;
  auto work = [&] {
    for (std::int64_t i = next++; i < report.images; i = next++) {
      try {
        dataset.load(report.split, i);
      } catch (const sdk::DataError& error) {
        std::lock_guard<std::mutex> lock(mutex);
        report.problems.push_back(sdk::DataProblem{dataset.record(report.split, i).file, error.what()});
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::int64_t t = 1; t < std::max<std::int64_t>(1, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  report.decoded = report.images;
}

}  // namespace

std::int64_t DatasetReport::problem_count() const {
  std::int64_t count = 0;
  for (const auto& split : splits) count += static_cast<std::int64_t>(split.problems.size());
  return count;
}

DatasetReport check_dataset(const sdk::Dataset& dataset, bool decode_images, std::int64_t threads) {
  DatasetReport report;
  report.categories = dataset.categories();
  for (const std::string& split : dataset.splits()) {
    SplitReport s;
    s.split = split;
    s.images = dataset.size(split);
    s.per_class.assign(report.categories.size(), 0);
    s.problems = dataset.problems(split);
    for (std::int64_t i = 0; i < s.images; ++i) {
      const auto annotations = dataset.annotations(split, i);
      if (annotations.empty()) ++s.images_without_annotations;
      for (const auto& annotation : annotations) {
        if (annotation.is_crowd) {
          ++s.crowd;
          continue;
        }
        ++s.annotations;
        if (annotation.label >= 0 && annotation.label < static_cast<std::int64_t>(s.per_class.size())) {
          ++s.per_class[static_cast<std::size_t>(annotation.label)];
        }
      }
    }
    if (decode_images) decode_all(dataset, s, threads);
    report.splits.push_back(std::move(s));
  }
  return report;
}

void print_report(std::ostream& out, const DatasetReport& report, std::size_t max_problems) {
  out << report.categories.size() << " classes\n";
  for (const SplitReport& s : report.splits) {
    out << "\n" << s.split << ": " << s.images << " images, " << s.annotations << " annotations";
    if (s.crowd > 0) out << " (+" << s.crowd << " crowd)";
    out << ", " << s.images_without_annotations << " images without annotations";
    if (s.decoded > 0) out << ", " << s.decoded << " images decoded";
    out << "\n";
    if (s.images == 0) continue;
    for (std::size_t c = 0; c < report.categories.size(); ++c) {
      out << "  " << std::left << std::setw(24) << report.categories[c].name << std::right << std::setw(8)
          << s.per_class[c] << "\n";
    }
    if (!s.problems.empty()) {
      out << "  " << s.problems.size() << " problem(s):\n";
      for (std::size_t i = 0; i < std::min(max_problems, s.problems.size()); ++i) {
        out << "    " << s.problems[i].file << ": " << s.problems[i].reason << "\n";
      }
      if (s.problems.size() > max_problems) out << "    ... and " << s.problems.size() - max_problems << " more\n";
    }
  }
}

}  // namespace rtseg::framework
