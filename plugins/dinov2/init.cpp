#include "init.h"

#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

namespace rtseg::plugins::dinov2 {

void trunc_normal_(torch::Tensor tensor, double std) {
  constexpr double kLow = -2.0;
  constexpr double kHigh = 2.0;
  const auto normal_cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double low = normal_cdf(kLow / std);
  const double high = normal_cdf(kHigh / std);
  torch::NoGradGuard no_grad;
  tensor.uniform_(2.0 * low - 1.0, 2.0 * high - 1.0);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.clamp_(kLow, kHigh);
}

}  // namespace rtseg::plugins::dinov2
