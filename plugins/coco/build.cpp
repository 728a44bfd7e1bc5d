// make_coco: from options to a CocoDataset (layout, files, categories, optional header checks).
#include <spdlog/logger.h>

#include <algorithm>
#include <thread>

#include "coco_dataset.h"
#include "coco_json.h"
#include "image_loading.h"
#include "layout.h"
#include "rtseg/sdk/dataset_paths.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {
namespace fs = std::filesystem;
namespace {

struct LoadedSplit {
  SplitSource source;
  CocoFile file;
};

// Labels must mean the same class in every split, so the category lists must be equal.
void check_same_categories(const std::vector<LoadedSplit>& splits) {
  const LoadedSplit& first = splits.front();
  for (const LoadedSplit& other : splits) {
    const auto& a = first.file.categories;
    const auto& b = other.file.categories;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      std::string difference;
      if (i >= a.size()) {
        difference = "category id " + std::to_string(b[i].id) + " (\"" + b[i].name +
                     "\") is not in " + first.source.display;
      } else if (i >= b.size()) {
        difference = "category id " + std::to_string(a[i].id) + " (\"" + a[i].name + "\") of " +
                     first.source.display + " is missing";
      } else if (a[i].id != b[i].id || a[i].name != b[i].name) {
        difference = "category " + std::to_string(b[i].id) + " \"" + b[i].name +
                     "\" differs from " + first.source.display + "'s " + std::to_string(a[i].id) +
                     " \"" + a[i].name + "\"";
      }
      if (!difference.empty()) {
        throw sdk::DataError(other.source.display +
                             ": the splits must list the same categories: " + difference);
      }
    }
  }
}

// Index in the file's categories -> label, or -1 for a category left out.
std::vector<std::int64_t> choose_labels(const std::vector<LoadedSplit>& splits, bool drop_root,
                                        std::vector<sdk::Category>& kept,
                                        const std::shared_ptr<spdlog::logger>& logger) {
  const std::vector<CocoCategory>& categories = splits.front().file.categories;
  std::vector<std::int64_t> labels(categories.size(), -1);
  for (std::size_t c = 0; c < categories.size(); ++c) {
    std::int64_t references = 0;
    for (const LoadedSplit& split : splits) references += split.file.categories[c].references;
    const bool is_root = drop_root && categories.size() > 1 &&
                         categories[c].supercategory == "none" && references == 0;
    if (is_root) {
      if (logger) {
        logger->info(
            "coco: left out category {} \"{}\" (supercategory \"none\", no annotations: "
            "Roboflow's root category)",
            categories[c].id, categories[c].name);
      }
      continue;
    }
    labels[c] = static_cast<std::int64_t>(kept.size());
    kept.push_back({categories[c].id, categories[c].name});
  }
  return labels;
}

// Runs check_image_header on every image (in parallel) and leaves out the failing ones.
void keep_readable_images(CocoSplit& split, const std::string& display) {
  std::vector<std::string> reasons(split.images.size());
  const std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < split.images.size(); i += workers) {
        reasons[i] = check_image_header(split.images[i].record);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<CocoImage> kept;
  kept.reserve(split.images.size());
  for (std::size_t i = 0; i < split.images.size(); ++i) {
    if (reasons[i].empty()) {
      kept.push_back(std::move(split.images[i]));
    } else {
      split.problems.push_back({display, "image " + std::to_string(split.images[i].record.id) +
                                             " left out: " + reasons[i]});
    }
  }
  split.images = std::move(kept);
}

// A file_name that leads outside the dataset (absolute, or ../ out of it) is refused unless the
// recipe allows it: the images folder a recipe names may be anywhere, the annotation's entries not.
void check_inside(const CocoImage& image, const fs::path& file, const SplitSource& source, const fs::path& root) {
  if (sdk::path_is_within(file, root) || sdk::path_is_within(file, source.images)) return;
  throw sdk::DataError(source.display + ": image id " + std::to_string(image.record.id) + ": file_name \"" +
                       image.record.file + "\" leads outside the dataset folder " + root.string() +
                       ". Fix the annotation, or set data.allow_outside_files = true if the dataset really "
                       "keeps its images elsewhere.");
}

CocoSplit to_split(LoadedSplit&& loaded, const std::vector<std::int64_t>& labels, const fs::path& root,
                   bool allow_outside_files) {
  CocoSplit split;
  split.name = loaded.source.name;
  split.problems = std::move(loaded.file.problems);
  split.images = std::move(loaded.file.images);
  for (CocoImage& image : split.images) {
    const fs::path file = loaded.source.images / image.record.file;
    if (!allow_outside_files) check_inside(image, file, loaded.source, root);
    image.record.file = file.string();
    // Annotations of a left-out category cannot exist: it is left out only when none names it.
    for (sdk::Annotation& annotation : image.annotations) {
      annotation.label = labels[static_cast<std::size_t>(annotation.label)];
    }
  }
  return split;
}

}  // namespace

std::unique_ptr<CocoDataset> make_coco(CocoOptions options, const sdk::BuildContext& context) {
  fs::path root(options.path);
  if (root.is_relative()) root = context.recipe_dir / root;
  std::vector<LoadedSplit> loaded;
  for (SplitSource& source : find_splits(options, root)) {
    CocoFile file = load_coco_file(source.json, source.display);
    loaded.push_back({std::move(source), std::move(file)});
  }
  check_same_categories(loaded);
  std::vector<sdk::Category> categories;
  const std::vector<std::int64_t> labels =
      choose_labels(loaded, options.drop_root_category, categories, context.logger);

  std::vector<CocoSplit> splits;
  for (LoadedSplit& split : loaded) {
    const std::string display = split.source.display;
    const std::int64_t annotations = split.file.annotation_count;
    splits.push_back(to_split(std::move(split), labels, root, options.allow_outside_files));
    if (options.image_check == "header") keep_readable_images(splits.back(), display);
    if (context.logger) {
      context.logger->info("coco: {}: {} images, {} annotations, {} problems (from {})",
                           splits.back().name, splits.back().images.size(), annotations,
                           splits.back().problems.size(), display);
    }
  }
  return std::make_unique<CocoDataset>(std::move(categories), std::move(splits));
}

}  // namespace rtseg::plugins::coco
