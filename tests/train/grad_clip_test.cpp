// clip_gradient_norm: torch.nn.utils.clip_grad_norm_'s result with multi-tensor kernels.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "rtseg/framework/train/grad_clip.h"

namespace rtseg::framework::train {
namespace {

std::vector<torch::Tensor> parameters_with_grads(double scale) {
  torch::manual_seed(5);
  std::vector<torch::Tensor> parameters;
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{4, 3}, {7}, {2, 2, 2}, {1}}) {
    parameters.push_back(torch::randn(shape).requires_grad_());
    parameters.back().mutable_grad() = torch::randn(shape) * scale;
  }
  parameters.push_back(torch::randn({3}).requires_grad_());  // no gradient: skipped
  return parameters;
}

TEST(ClipGradientNorm, MatchesClipGradNormWhenClipping) {
  auto expected = parameters_with_grads(10.0);
  auto tested = parameters_with_grads(10.0);
  const double expected_norm = torch::nn::utils::clip_grad_norm_(expected, 0.1);
  const double norm = clip_gradient_norm(tested, 0.1);
  EXPECT_NEAR(norm, expected_norm, 1e-5 * expected_norm);
  EXPECT_GT(norm, 0.1);
  for (std::size_t i = 0; i + 1 < tested.size(); ++i) {
    EXPECT_TRUE(torch::allclose(tested[i].grad(), expected[i].grad(), 1e-5, 1e-7)) << i;
  }
  EXPECT_FALSE(tested.back().grad().defined());
}

TEST(ClipGradientNorm, LeavesSmallGradientsAlone) {
  auto tested = parameters_with_grads(1e-3);
  const auto before = tested.front().grad().clone();
  const double norm = clip_gradient_norm(tested, 1.0);
  EXPECT_LT(norm, 1.0);
  EXPECT_TRUE(torch::equal(tested.front().grad(), before));
}

}  // namespace
}  // namespace rtseg::framework::train
