#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace rtseg::framework::train {

/// Mixed precision as the run uses it.
enum class AmpMode { kOff, kBf16, kFp16 };

/// train.amp ("auto" | "bf16" | "fp16" | "off") on `device`: auto picks bf16 on CUDA devices that
/// support it (Ampere and later), fp16 on older CUDA devices, off on the CPU. bf16/fp16 on the CPU
/// are refused with a message (CPU autocast is slower than fp32 on most machines).
AmpMode resolve_amp(const std::string& setting, const torch::Device& device);
std::string to_string(AmpMode mode);

/// Autocast for the forward pass and the criterion while alive (RF-DETR wraps both).
class AutocastScope {
 public:
  explicit AutocastScope(AmpMode mode);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

/// Dynamic loss scaling for fp16 (torch.amp.GradScaler's algorithm through ATen's fused
/// kernels): the loss is multiplied by the scale before backward; gradients are unscaled and
/// checked for Inf/NaN in one fused call; a step with non-finite gradients is skipped and the
/// scale halved; after `growth_interval` clean steps it doubles. Disabled: every call is a no-op
/// and the step always runs.
class LossScaler {
 public:
  LossScaler(bool enabled, const torch::Device& device, double initial_scale = 65536.0,
             std::int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Unscales the gradients in place; returns whether they are all finite (one host read).
  bool unscale(const std::vector<torch::Tensor>& parameters);
  /// After the (possibly skipped) optimizer step.
  void update();

  double current_scale() const;
  void load(double scale, std::int64_t growth_tracker);
  std::int64_t growth_tracker() const;

 private:
  bool enabled_;
  std::int64_t growth_interval_;
  torch::Tensor scale_;           // [1] float on the device
  torch::Tensor growth_tracker_;  // [1] int on the device
  torch::Tensor found_inf_;       // [1] float on the device
};

}  // namespace rtseg::framework::train
