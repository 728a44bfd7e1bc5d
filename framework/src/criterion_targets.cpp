#include "rtseg/framework/criterion/targets.h"

#include <algorithm>

namespace rtseg::framework::criterion {
namespace {

torch::Tensor on_device(const torch::Tensor& tensor, const torch::Device& device,
                        torch::ScalarType dtype) {
  if (device.is_cuda() && tensor.device().is_cpu()) {
    // Through pinned memory, non-blocking: a plain copy would wait for the GPU's queue.
    return tensor.to(dtype).pin_memory().to(device, /*non_blocking=*/true);
  }
  return tensor.to(device, dtype);
}

}  // namespace

torch::Tensor pad_per_image(const std::vector<torch::Tensor>& parts, std::int64_t max_size,
                            double value) {
  TORCH_CHECK(!parts.empty(), "pad_per_image: no images");
  auto shape = parts.front().sizes().vec();
  shape[0] = max_size;
  shape.insert(shape.begin(), static_cast<std::int64_t>(parts.size()));
  torch::Tensor padded = torch::full(shape, value, parts.front().options());
  for (std::size_t b = 0; b < parts.size(); ++b) {
    const std::int64_t n = parts[b].size(0);
    if (n > 0) padded[static_cast<std::int64_t>(b)].narrow(0, 0, n).copy_(parts[b]);
  }
  return padded;
}

TargetBatch make_target_batch(const std::vector<Targets>& targets, const torch::Device& device,
                              torch::ScalarType box_dtype) {
  TORCH_CHECK(!targets.empty(), "make_target_batch: no images");
  TargetBatch batch;
  std::vector<torch::Tensor> labels, boxes, masks;
  bool all_masks = true;
  std::int64_t mask_height = -1, mask_width = -1;
  for (std::size_t b = 0; b < targets.size(); ++b) {
    const Targets& t = targets[b];
    TORCH_CHECK(t.labels.defined() && t.labels.dim() == 1,
                "make_target_batch: image ", b, ": labels must be [N], got ",
                t.labels.defined() ? t.labels.sizes() : torch::IntArrayRef{});
    const std::int64_t n = t.labels.size(0);
    TORCH_CHECK(t.boxes.defined() && t.boxes.dim() == 2 && t.boxes.size(0) == n &&
                    t.boxes.size(1) == 4,
                "make_target_batch: image ", b, ": boxes must be [", n, ", 4]");
    batch.first.push_back(batch.total);
    batch.sizes.push_back(n);
    batch.total += n;
    batch.max_size = std::max(batch.max_size, n);
    labels.push_back(on_device(t.labels, device, torch::kLong));
    boxes.push_back(on_device(t.boxes, device, box_dtype));
    if (t.masks.defined()) {
      TORCH_CHECK(t.masks.dim() == 3 && t.masks.size(0) == n,
                  "make_target_batch: image ", b, ": masks must be [", n, ", H, W], got ",
                  t.masks.sizes());
      if (mask_height < 0) {
        mask_height = t.masks.size(1);
        mask_width = t.masks.size(2);
      }
      TORCH_CHECK(t.masks.size(1) == mask_height && t.masks.size(2) == mask_width,
                  "make_target_batch: image ", b, ": masks are ", t.masks.size(1), "x",
                  t.masks.size(2), " but the batch's are ", mask_height, "x", mask_width,
                  " (pad them to the batch size)");
      masks.push_back(on_device(t.masks, device, torch::kBool));
    } else if (n > 0) {
      all_masks = false;
    } else {
      masks.emplace_back();  // an image without objects needs no masks
    }
  }
  batch.labels = torch::cat(labels);
  batch.boxes = torch::cat(boxes);
  if (all_masks && mask_height >= 0) {
    for (auto& m : masks) {
      if (!m.defined()) {
        m = torch::zeros({0, mask_height, mask_width}, torch::TensorOptions(device).dtype(torch::kBool));
      }
    }
    batch.masks = torch::cat(masks);
  }
  batch.padded_labels = pad_per_image(labels, batch.max_size, -1);
  // A unit box keeps the padding columns' costs finite (they are never read).
  batch.padded_boxes = pad_per_image(boxes, batch.max_size, 0.5);
  for (std::size_t b = 0; b < boxes.size(); ++b) {
    const std::int64_t n = batch.sizes[b];
    if (n < batch.max_size) {
      batch.padded_boxes[static_cast<std::int64_t>(b)].narrow(0, n, batch.max_size - n).narrow(1, 2, 2).fill_(1.0);
    }
  }
  return batch;
}

}  // namespace rtseg::framework::criterion
