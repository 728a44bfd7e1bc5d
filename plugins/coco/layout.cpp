#include "layout.h"

#include <algorithm>
#include <map>
#include <system_error>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRoboflowFile = "_annotations.coco.json";
const char* const kSplitNames[] = {"train", "valid", "test"};

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

bool is_folder(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

std::string display_name(const fs::path& file, const fs::path& root) {
  const fs::path relative = file.lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") return file.generic_string();
  return relative.generic_string();
}

fs::path under(const fs::path& root, const std::string& path) {
  return fs::path(path).is_absolute() ? fs::path(path) : root / path;
}

std::vector<SplitSource> custom_layout(const CocoOptions& options, const fs::path& root) {
  const std::string* jsons[] = {&options.train_json, &options.valid_json, &options.test_json};
  const std::string* images[] = {&options.train_images, &options.valid_images,
                                 &options.test_images};
  std::vector<SplitSource> splits;
  for (int i = 0; i < 3; ++i) {
    if (jsons[i]->empty()) continue;
    SplitSource split;
    split.name = kSplitNames[i];
    split.json = under(root, *jsons[i]);
    split.images = images[i]->empty() ? split.json.parent_path() : under(root, *images[i]);
    split.display = display_name(split.json, root);
    if (!is_file(split.json)) {
      throw sdk::ConfigError("coco dataset: " + split.name + "_json: " + split.json.string() +
                             " is not a file");
    }
    if (!is_folder(split.images)) {
      throw sdk::ConfigError("coco dataset: the " + split.name + " images folder " +
                             split.images.string() + " does not exist");
    }
    splits.push_back(std::move(split));
  }
  return splits;
}

std::vector<SplitSource> roboflow_layout(const fs::path& root) {
  std::vector<SplitSource> splits;
  for (const char* name : kSplitNames) {
    fs::path folder = root / name;
    if (std::string(name) == "valid" && !is_file(folder / kRoboflowFile)) folder = root / "val";
    if (!is_file(folder / kRoboflowFile)) continue;
    splits.push_back(
        {name, folder / kRoboflowFile, folder, display_name(folder / kRoboflowFile, root)});
  }
  return splits;
}

// "train2017" -> "train"; "val2017" -> "valid"; anything else -> "".
std::string split_of(const std::string& name) {
  if (name.rfind("train", 0) == 0) return "train";
  if (name.rfind("val", 0) == 0) return "valid";
  if (name.rfind("test", 0) == 0) return "test";
  return {};
}

std::vector<SplitSource> official_layout(const fs::path& root) {
  const fs::path folder = root / "annotations";
  if (!is_folder(folder)) return {};
  std::map<std::string, std::vector<fs::path>> found;  // split -> candidate files
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    const std::string file = entry.path().filename().string();
    const std::string prefix = "instances_";
    if (file.rfind(prefix, 0) != 0 || entry.path().extension() != ".json") continue;
    const std::string split = split_of(entry.path().stem().string().substr(prefix.size()));
    if (!split.empty()) found[split].push_back(entry.path());
  }
  std::vector<SplitSource> splits;
  for (const char* name : kSplitNames) {
    auto files = found.find(name);
    if (files == found.end()) continue;
    std::sort(files->second.begin(), files->second.end());
    if (files->second.size() > 1) {
      throw sdk::ConfigError("coco dataset: " + folder.string() + " has several " + name +
                             " annotation files (" + files->second[0].filename().string() + ", " +
                             files->second[1].filename().string() + "); choose one with " + name +
                             "_json and " + name + "_images");
    }
    const fs::path json = files->second[0];
    const fs::path images = root / json.stem().string().substr(std::string("instances_").size());
    if (!is_folder(images)) {
      throw sdk::ConfigError("coco dataset: " + display_name(json, root) + " has no image folder " +
                             images.string() + "; set " + name + "_images");
    }
    splits.push_back({name, json, images, display_name(json, root)});
  }
  return splits;
}

}  // namespace

std::vector<SplitSource> find_splits(const CocoOptions& options, const fs::path& root) {
  if (!is_folder(root)) {
    throw sdk::ConfigError("coco dataset: path \"" + options.path + "\" (" + root.string() +
                           ") is not a folder");
  }
  if (!options.train_json.empty() || !options.valid_json.empty() || !options.test_json.empty()) {
    return custom_layout(options, root);
  }
  std::vector<SplitSource> splits = roboflow_layout(root);
  if (splits.empty()) splits = official_layout(root);
  if (splits.empty()) {
    throw sdk::ConfigError(
        "coco dataset: no annotation files in " + root.string() +
        ": expected Roboflow's layout (train/_annotations.coco.json, valid/..., test/...) or "
        "COCO's "
        "(annotations/instances_train2017.json with images in train2017/); for other layouts set "
        "train_json, valid_json, test_json");
  }
  return splits;
}

}  // namespace rtseg::plugins::coco
