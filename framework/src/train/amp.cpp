#include "rtseg/framework/train/amp.h"

#include <ATen/autocast_mode.h>
#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>
#include <ATen/ops/_amp_update_scale.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "rtseg/sdk/errors.h"

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/cuda/CUDAContext.h>
#endif

namespace rtseg::framework::train {
namespace {

bool cuda_supports_bf16(const torch::Device& device) {
#if TORCH_VERSION_MAJOR >= 2
  if (!device.is_cuda() || !torch::cuda::is_available()) return false;
  return at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index())->major >= 8;
#else
  (void)device;
  return false;  // the CPU-only LibTorch this builds against here has no CUDA context
#endif
}

void set_gpu_autocast(bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

bool gpu_autocast_enabled() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

at::ScalarType gpu_autocast_dtype() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace

AmpMode resolve_amp(const std::string& setting, const torch::Device& device) {
  if (setting == "off") return AmpMode::kOff;
  if (setting == "auto") {
    if (!device.is_cuda()) return AmpMode::kOff;
    return cuda_supports_bf16(device) ? AmpMode::kBf16 : AmpMode::kFp16;
  }
  if (setting != "bf16" && setting != "fp16") {
    throw sdk::ConfigError("train.amp = \"" + setting + "\": expected auto, bf16, fp16 or off.");
  }
  if (!device.is_cuda()) {
    throw sdk::ConfigError("train.amp = \"" + setting + "\" needs a CUDA device (the run is on " + device.str() +
                           "); use amp = \"off\" or \"auto\".");
  }
  return setting == "bf16" ? AmpMode::kBf16 : AmpMode::kFp16;
}

std::string to_string(AmpMode mode) {
  switch (mode) {
    case AmpMode::kBf16: return "bf16";
    case AmpMode::kFp16: return "fp16";
    default: return "off";
  }
}

AutocastScope::AutocastScope(AmpMode mode) {
  if (mode == AmpMode::kOff) return;
  active_ = true;
  previous_enabled_ = gpu_autocast_enabled();
  previous_dtype_ = gpu_autocast_dtype();
  set_gpu_autocast(true, mode == AmpMode::kBf16 ? at::kBFloat16 : at::kHalf);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The cast cache holds fp16/bf16 copies of the weights; they must not outlive the step.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_gpu_autocast(previous_enabled_, previous_dtype_);
}

LossScaler::LossScaler(bool enabled, const torch::Device& device, double initial_scale,
                       std::int64_t growth_interval)
    : enabled_(enabled), growth_interval_(growth_interval) {
  if (!enabled_) return;
  const auto on = torch::TensorOptions().device(device);
  scale_ = torch::full({1}, initial_scale, on.dtype(torch::kFloat));
  growth_tracker_ = torch::zeros({1}, on.dtype(torch::kInt));
  found_inf_ = torch::zeros({1}, on.dtype(torch::kFloat));
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_.to(loss.scalar_type()) : loss;
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) {
  if (!enabled_) return true;
  std::vector<torch::Tensor> grads;
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined()) grads.push_back(parameter.grad());
  }
  found_inf_.zero_();
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
  return found_inf_.item<float>() == 0.0f;
}

void LossScaler::update() {
  if (!enabled_) return;
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, growth_interval_);
}

double LossScaler::current_scale() const { return enabled_ ? scale_.item<double>() : 1.0; }
std::int64_t LossScaler::growth_tracker() const { return enabled_ ? growth_tracker_.item<std::int64_t>() : 0; }

void LossScaler::load(double scale, std::int64_t growth_tracker) {
  if (!enabled_) return;
  scale_.fill_(scale);
  growth_tracker_.fill_(growth_tracker);
}

}  // namespace rtseg::framework::train
