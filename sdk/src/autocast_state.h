#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// Autocast's per-device settings, read and written the same way on LibTorch 1.13 (one flag per
// device kind) and 2.4+ (by device type).
namespace rtseg::sdk::detail {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define RTSEG_AUTOCAST_BY_DEVICE 1
#else
#define RTSEG_AUTOCAST_BY_DEVICE 0
#endif

struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kFloat;
};

/// CPU and CUDA only: other devices read as autocast off.
inline AutocastState autocast_state(c10::DeviceType device) {
#if RTSEG_AUTOCAST_BY_DEVICE
  if (device != c10::DeviceType::CUDA && device != c10::DeviceType::CPU) return {};
  return {at::autocast::is_autocast_enabled(device), at::autocast::get_autocast_dtype(device)};
#else
  if (device == c10::DeviceType::CUDA) return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
  if (device == c10::DeviceType::CPU) return {at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
  return {};
#endif
}

inline void set_autocast_state(c10::DeviceType device, const AutocastState& state) {
#if RTSEG_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(device, state.enabled);
  at::autocast::set_autocast_dtype(device, state.dtype);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(state.enabled);
    at::autocast::set_autocast_gpu_dtype(state.dtype);
  } else if (device == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(state.enabled);
    at::autocast::set_autocast_cpu_dtype(state.dtype);
  }
#endif
}

}  // namespace rtseg::sdk::detail
