// make_yolo_seg: from options to a YoloSegDataset (data.yaml, image headers, label files).
#include <spdlog/logger.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

#include "data_yaml.h"
#include "label_file.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "yolo_dataset.h"
#include "yolo_layout.h"

namespace rtseg::plugins::yolo_seg {
namespace fs = std::filesystem;
namespace {

fs::path find_yaml(const YoloSegOptions& options, const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) return path;
  if (!fs::is_directory(path, error)) {
    throw sdk::ConfigError("yolo_seg dataset: path \"" + options.path + "\" (" + path.string() +
                           ") does not exist");
  }
  for (const char* name : {"data.yaml", "data.yml"}) {
    if (fs::is_regular_file(path / name, error)) return path / name;
  }
  throw sdk::ConfigError("yolo_seg dataset: " + path.string() +
                         " has no data.yaml or data.yml; set path to the dataset's YAML file");
}

// What one image gives: its record and rows, or why it was left out.
struct ImageResult {
  bool kept = false;
  YoloImage image;
  std::vector<sdk::DataProblem> problems;
};

ImageResult read_image(const ImageFiles& files, std::int64_t class_count, const fs::path& root) {
  ImageResult result;
  sdk::ImageInfo info;
  try {
    info = sdk::read_image_info(files.image);
  } catch (const sdk::Error& error) {
    result.problems.push_back(
        {display_path(files.image, root), std::string("image left out: ") + error.what()});
    return result;
  }
  result.kept = true;
  result.image.record.file = files.image.string();
  result.image.record.width = info.width;
  result.image.record.height = info.height;
  std::error_code error;
  if (!fs::exists(files.label, error)) return result;  // no label file: an image without objects
  std::ifstream in(files.label, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  if (!in && !in.eof()) {
    result.problems.push_back(
        {display_path(files.label, root), "cannot be read; the image has no objects"});
    return result;
  }
  LabelRows rows = parse_label_rows(text, class_count, info.width, info.height);
  result.image.annotations = std::move(rows.annotations);
  for (std::string& problem : rows.problems) {
    result.problems.push_back({display_path(files.label, root), std::move(problem)});
  }
  return result;
}

std::vector<ImageResult> read_images(const std::vector<ImageFiles>& files, std::int64_t class_count,
                                     const fs::path& root) {
  std::vector<ImageResult> results(files.size());
  const std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < std::min(workers, files.size()); ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < files.size(); i += workers) {
        results[i] = read_image(files[i], class_count, root);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

}  // namespace

std::unique_ptr<YoloSegDataset> make_yolo_seg(YoloSegOptions options,
                                              const sdk::BuildContext& context) {
  fs::path path(options.path);
  if (path.is_relative()) path = context.recipe_dir / path;
  const fs::path yaml = find_yaml(options, path);
  const DataYaml data = read_data_yaml(yaml);
  const fs::path root = yaml.parent_path();

  std::vector<sdk::Category> categories;
  for (std::size_t i = 0; i < data.names.size(); ++i) {
    categories.push_back({static_cast<std::int64_t>(i), data.names[i]});
  }
  const auto class_count = static_cast<std::int64_t>(categories.size());

  std::vector<YoloSplit> splits;
  std::int64_t next_annotation_id = 1;
  for (const SplitEntries& entries : data.splits) {
    YoloSplit split;
    split.name = entries.name;
    const std::vector<ImageFiles> files =
        list_split_images(data, entries, split.problems, options.allow_outside_files);
    std::int64_t annotations = 0;
    for (ImageResult& result : read_images(files, class_count, root)) {
      for (sdk::DataProblem& problem : result.problems)
        split.problems.push_back(std::move(problem));
      if (!result.kept) continue;
      result.image.record.id = static_cast<std::int64_t>(split.images.size()) + 1;
      for (sdk::Annotation& annotation : result.image.annotations)
        annotation.id = next_annotation_id++;
      annotations += static_cast<std::int64_t>(result.image.annotations.size());
      split.images.push_back(std::move(result.image));
    }
    if (context.logger) {
      context.logger->info("yolo_seg: {}: {} images, {} annotations, {} problems (from {})",
                           split.name, split.images.size(), annotations, split.problems.size(),
                           yaml.string());
    }
    splits.push_back(std::move(split));
  }
  return std::make_unique<YoloSegDataset>(std::move(categories), std::move(splits));
}

}  // namespace rtseg::plugins::yolo_seg
