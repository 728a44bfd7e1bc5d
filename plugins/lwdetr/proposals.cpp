#include "proposals.h"

#include <cmath>
#include <limits>

namespace rtseg::plugins::lwdetr {

EncoderProposals encoder_output_proposals(const torch::Tensor& memory,
                                          const torch::Tensor& padding,
                                          const std::vector<LevelShape>& shapes, bool unsigmoid) {
  const std::int64_t batch = memory.size(0);
  const auto float_options = memory.options().dtype(torch::kFloat);
  std::vector<torch::Tensor> per_level;
  std::int64_t start = 0;
  for (std::size_t level = 0; level < shapes.size(); ++level) {
    const std::int64_t height = shapes[level].height;
    const std::int64_t width = shapes[level].width;
    const torch::Tensor valid =
        padding.narrow(1, start, height * width).view({batch, height, width}).logical_not();
    // Valid extent counted along the first column / first row, as RF-DETR does.
    const torch::Tensor valid_h = valid.select(2, 0).sum(1).view({batch, 1, 1});
    const torch::Tensor valid_w = valid.select(1, 0).sum(1).view({batch, 1, 1});
    const torch::Tensor ys = torch::arange(height, float_options).view({1, height, 1});
    const torch::Tensor xs = torch::arange(width, float_options).view({1, 1, width});
    const torch::Tensor cx = ((xs + 0.5) / valid_w).expand({batch, height, width});
    const torch::Tensor cy = ((ys + 0.5) / valid_h).expand({batch, height, width});
    const torch::Tensor size =
        torch::full({batch, height, width}, 0.05 * std::pow(2.0, static_cast<double>(level)),
                    float_options);
    per_level.push_back(torch::stack({cx, cy, size, size}, -1).view({batch, height * width, 4}));
    start += height * width;
  }
  torch::Tensor boxes = torch::cat(per_level, 1);
  const torch::Tensor valid_box = ((boxes > 0.01) & (boxes < 0.99)).all(-1, /*keepdim=*/true);
  const torch::Tensor padded = padding.unsqueeze(-1);
  if (unsigmoid) {
    const double inf = std::numeric_limits<double>::infinity();
    boxes = torch::log(boxes / (1 - boxes)).masked_fill(padded, inf).masked_fill(
        valid_box.logical_not(), inf);
  } else {
    boxes = boxes.masked_fill(padded, 0.0).masked_fill(valid_box.logical_not(), 0.0);
  }
  const torch::Tensor output_memory =
      memory.masked_fill(padded, 0.0).masked_fill(valid_box.logical_not(), 0.0);
  return {output_memory, boxes.to(memory.scalar_type())};
}

}  // namespace rtseg::plugins::lwdetr
