#include "levels.h"

#include <string>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::lwdetr {

torch::Tensor valid_ratio(const torch::Tensor& mask) {
  const double height = static_cast<double>(mask.size(1));
  const double width = static_cast<double>(mask.size(2));
  const torch::Tensor valid = mask.logical_not();
  const torch::Tensor valid_h = valid.select(2, 0).sum(1).to(torch::kFloat) / height;
  const torch::Tensor valid_w = valid.select(1, 0).sum(1).to(torch::kFloat) / width;
  return torch::stack({valid_w, valid_h}, -1);
}

FlatLevels flatten_levels(const std::vector<torch::Tensor>& features,
                          const std::vector<torch::Tensor>& masks) {
  if (features.empty() || features.size() != masks.size()) {
    throw sdk::Error("lwdetr decoder: got " + std::to_string(features.size()) +
                     " feature maps and " + std::to_string(masks.size()) +
                     " masks; need one mask per map and at least one map.");
  }
  FlatLevels flat;
  std::vector<torch::Tensor> memory, padding, ratios;
  std::int64_t start = 0;
  for (std::size_t level = 0; level < features.size(); ++level) {
    const torch::Tensor& feature = features[level];
    const torch::Tensor& mask = masks[level];
    const LevelShape shape{feature.size(2), feature.size(3)};
    if (mask.dim() != 3 || mask.size(0) != feature.size(0) || mask.size(1) != shape.height ||
        mask.size(2) != shape.width) {
      throw sdk::Error("lwdetr decoder: the mask of level " + std::to_string(level) +
                       " must be [B, h, w] matching its feature map " +
                       std::to_string(shape.height) + "x" + std::to_string(shape.width) + ".");
    }
    flat.shapes.push_back(shape);
    flat.starts.push_back(start);
    start += shape.height * shape.width;
    memory.push_back(feature.flatten(2).transpose(1, 2));
    padding.push_back(mask.flatten(1));
    ratios.push_back(valid_ratio(mask));
  }
  flat.memory = torch::cat(memory, 1);
  flat.padding = torch::cat(padding, 1);
  flat.valid_ratios = torch::stack(ratios, 1).to(flat.memory.scalar_type());
  return flat;
}

}  // namespace rtseg::plugins::lwdetr
