#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "rtseg/framework/sample_transform.h"

namespace rtseg::framework::criterion {

/// The ground truth of one batch in the layouts the matcher and the losses use; built once per
/// step and shared by every supervised output.
struct TargetBatch {
  std::vector<std::int64_t> sizes;  ///< objects per image (host)
  std::vector<std::int64_t> first;  ///< index of each image's first object in the concatenation
  std::int64_t total = 0;           ///< objects in the batch
  std::int64_t max_size = 0;        ///< the most objects in one image

  torch::Tensor labels;  ///< [T] int64, all images concatenated
  torch::Tensor boxes;   ///< [T, 4] (cx, cy, w, h)
  torch::Tensor masks;   ///< [T, H, W] bool; undefined when the targets have no masks

  torch::Tensor padded_labels;  ///< [B, max_size] int64, -1 past an image's objects
  torch::Tensor padded_boxes;   ///< [B, max_size, 4], padding boxes are (0.5, 0.5, 1, 1)

  std::int64_t batch_size() const { return static_cast<std::int64_t>(sizes.size()); }
  bool has_masks() const { return masks.defined(); }
};

/// Gathers the per-image targets onto `device` with `box_dtype` boxes. Masks are kept when
/// every image with objects has them; they must all have the same H x W (the padded batch size).
/// Host targets go to a GPU through pinned memory without blocking (no host synchronisation).
TargetBatch make_target_batch(const std::vector<Targets>& targets, const torch::Device& device,
                              torch::ScalarType box_dtype = torch::kFloat);

/// Pads per-image [N_i, ...] tensors to [B, max N_i, ...] with `value`.
torch::Tensor pad_per_image(const std::vector<torch::Tensor>& parts, std::int64_t max_size,
                            double value);

}  // namespace rtseg::framework::criterion
