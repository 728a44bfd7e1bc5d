#include <algorithm>
#include <cctype>
#include <string>

#include "rtseg/framework/predict/predictor.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

bool is_image_name(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

}  // namespace

std::vector<std::filesystem::path> list_images(const std::filesystem::path& source) {
  std::error_code error;
  if (std::filesystem::is_regular_file(source, error)) return {source};
  if (!std::filesystem::is_directory(source, error)) {
    throw sdk::ConfigError(source.string() + ": no such image file or folder");
  }
  std::vector<std::filesystem::path> images;
  for (const auto& entry : std::filesystem::directory_iterator(source, error)) {
    if (entry.is_regular_file(error) && is_image_name(entry.path())) images.push_back(entry.path());
  }
  if (error) throw sdk::Error(source.string() + ": cannot list the folder: " + error.message());
  if (images.empty()) throw sdk::ConfigError(source.string() + ": no .jpg, .jpeg or .png images in the folder");
  std::sort(images.begin(), images.end());
  return images;
}

}  // namespace rtseg::framework
