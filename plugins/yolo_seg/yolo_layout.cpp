#include "yolo_layout.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <system_error>

#include "rtseg/sdk/dataset_paths.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::yolo_seg {
namespace fs = std::filesystem;
namespace {

std::string lower_extension(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

bool is_readable_image(const fs::path& file) {
  const std::string extension = lower_extension(file);
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

// Formats Ultralytics accepts that the SDK's decoder does not.
bool is_other_image(const fs::path& file) {
  static const char* const kOthers[] = {".bmp", ".tif", ".tiff", ".webp",
                                        ".dng", ".mpo", ".pfm",  ".heic"};
  const std::string extension = lower_extension(file);
  return std::any_of(std::begin(kOthers), std::end(kOthers),
                     [&](const char* other) { return extension == other; });
}

fs::path resolve_entry(const DataYaml& data, const SplitEntries& split, const std::string& entry) {
  std::error_code error;
  const fs::path direct = data.base / entry;
  if (fs::exists(direct, error)) return direct;
  if (entry.rfind("../", 0) == 0 && fs::exists(data.base / entry.substr(3), error)) {
    return data.base / entry.substr(3);
  }
  throw sdk::DataError(data.file.string() + ": " + split.key + ": " + direct.string() +
                       " does not exist");
}

void add_image(const fs::path& file, const fs::path& root, std::vector<fs::path>& images,
               std::vector<sdk::DataProblem>& problems) {
  if (is_readable_image(file)) {
    images.push_back(file);
  } else if (is_other_image(file)) {
    problems.push_back(
        {display_path(file, root), "unsupported image format (rtseg reads JPEG and PNG); skipped"});
  }
}

// Where a path named by a dataset file leads outside the dataset: the error, naming the place.
sdk::DataError outside(const std::string& place, const std::string& entry, const fs::path& root) {
  return sdk::DataError(place + ": \"" + entry + " leads outside the dataset folder " + root.string() +
                        ". Fix the entry, or set data.allow_outside_files = true if the dataset "
                        "really keeps its images elsewhere.");
}

void add_listed_images(const fs::path& list, const fs::path* root, std::vector<fs::path>& images) {
  std::ifstream in(list);
  if (!in) throw sdk::DataError(list.string() + ": cannot be read");
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    std::size_t begin = 0;
    while (begin < line.size() && std::isspace(static_cast<unsigned char>(line[begin]))) ++begin;
    if (begin == line.size()) continue;
    const fs::path image = list.parent_path() / line.substr(begin);
    if (root && !sdk::path_is_within(image, *root)) {
      throw outside(list.string() + ":" + std::to_string(number), line.substr(begin) + "\"", *root);
    }
    images.push_back(image);
  }
}

}  // namespace

std::string display_path(const fs::path& file, const fs::path& root) {
  const fs::path relative = file.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") return file.string();
  return relative.generic_string();
}

fs::path label_path_for(const fs::path& image) {
  std::string text = image.generic_string();
  const std::size_t images = text.rfind("/images/");
  if (images != std::string::npos) text.replace(images, 8, "/labels/");
  return fs::path(text).replace_extension(".txt");
}

std::vector<ImageFiles> list_split_images(const DataYaml& data, const SplitEntries& split,
                                          std::vector<sdk::DataProblem>& problems,
                                          bool allow_outside_files) {
  const fs::path root = data.file.parent_path();
  const fs::path* confine = allow_outside_files ? nullptr : &root;  // the folder images must be in
  std::vector<fs::path> images;
  std::vector<sdk::DataProblem> found_problems;
  for (const std::string& entry : split.entries) {
    const fs::path resolved = resolve_entry(data, split, entry);
    if (confine && !sdk::path_is_within(resolved, root)) {
      throw outside(data.file.string() + ": " + split.key, entry + "\" (" + resolved.string() + ")", root);
    }
    std::error_code error;
    if (fs::is_directory(resolved, error)) {
      const auto options = fs::directory_options::follow_directory_symlink;
      for (const auto& item : fs::recursive_directory_iterator(resolved, options)) {
        if (item.is_regular_file(error)) add_image(item.path(), root, images, found_problems);
      }
    } else if (lower_extension(resolved) == ".txt") {
      add_listed_images(resolved, confine, images);
    } else {
      add_image(resolved, root, images, found_problems);
    }
  }
  // Folders are listed in no particular order; sort so that runs report the same way.
  std::sort(found_problems.begin(), found_problems.end(),
            [](const sdk::DataProblem& a, const sdk::DataProblem& b) { return a.file < b.file; });
  problems.insert(problems.end(), found_problems.begin(), found_problems.end());
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  std::vector<ImageFiles> files;
  files.reserve(images.size());
  for (fs::path& image : images) {
    fs::path label = label_path_for(image);
    files.push_back({std::move(image), std::move(label)});
  }
  return files;
}

}  // namespace rtseg::plugins::yolo_seg
