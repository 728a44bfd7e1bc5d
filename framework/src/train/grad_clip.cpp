#include "rtseg/framework/train/grad_clip.h"

#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/stack.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>

namespace rtseg::framework::train {

double clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& parameter : parameters) {
    if (parameter.grad().defined()) grads.push_back(parameter.grad());
  }
  if (grads.empty()) return 0.0;
  const torch::Tensor total = at::stack(at::_foreach_norm(grads, 2.0)).norm(2.0);
  const torch::Tensor coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  at::_foreach_mul_(grads, coefficient);  // no host round trip before scaling
  return total.item<double>();
#else
  const double norm = total.item<double>();  // LibTorch 1.13 scales by a host scalar
  at::_foreach_mul_(grads, coefficient.item<double>());
  return norm;
#endif
}

}  // namespace rtseg::framework::train
