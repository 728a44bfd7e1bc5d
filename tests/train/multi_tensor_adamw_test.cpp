// MultiTensorAdamW: the same updates and state as LibTorch's AdamW.
#include <gtest/gtest.h>

#include <algorithm>

#include <torch/torch.h>

#include "rtseg/framework/train/multi_tensor_adamw.h"

namespace rtseg::framework::train {
namespace {

// Three groups (weight decay, another rate, no decay) over tensors of several shapes.
std::vector<torch::optim::OptimizerParamGroup> groups_over(const std::vector<torch::Tensor>& tensors) {
  const auto group = [](std::vector<torch::Tensor> params, double lr, double decay) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(lr);
    options->weight_decay(decay);
    return torch::optim::OptimizerParamGroup(std::move(params), std::move(options));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.push_back(group({tensors[0], tensors[1]}, 1e-3, 1e-4));
  groups.push_back(group({tensors[2]}, 3e-4, 1e-4));
  groups.push_back(group({tensors[3], tensors[4]}, 1e-3, 0.0));
  return groups;
}

std::vector<torch::Tensor> make_parameters() {
  torch::manual_seed(3);
  return {torch::randn({7, 5}).requires_grad_(), torch::randn({5}).requires_grad_(),
          torch::randn({2, 3, 4}).requires_grad_(), torch::randn({1}).requires_grad_(),
          torch::randn({9}).requires_grad_()};
}

TEST(MultiTensorAdamW, MatchesAdamWBitForBitOverSteps) {
  auto reference_params = make_parameters();
  auto tested_params = make_parameters();
  torch::optim::AdamW reference(groups_over(reference_params), torch::optim::AdamWOptions(1e-3));
  MultiTensorAdamW tested(groups_over(tested_params), torch::optim::AdamWOptions(1e-3));
  torch::manual_seed(11);
  for (int step = 0; step < 4; ++step) {
    for (std::size_t i = 0; i < reference_params.size(); ++i) {
      const torch::Tensor grad = torch::randn(reference_params[i].sizes());
      // Tensor 4 has no gradient in step 1: it skips that step and then lags one behind.
      const bool skipped = i == 4 && step == 1;
      reference_params[i].mutable_grad() = skipped ? torch::Tensor() : grad.clone();
      tested_params[i].mutable_grad() = skipped ? torch::Tensor() : grad.clone();
    }
    reference.step();
    tested.step();
    for (std::size_t i = 0; i < reference_params.size(); ++i) {
      EXPECT_TRUE(torch::equal(reference_params[i], tested_params[i])) << "tensor " << i << " after step " << step;
    }
  }
  // The state is AdamW's own: same keys, steps and moments.
  ASSERT_EQ(tested.state().size(), reference.state().size());
  std::vector<std::int64_t> steps;
  for (const auto& item : tested.state()) {
    steps.push_back(static_cast<const torch::optim::AdamWParamState&>(*item.second).step());
  }
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<std::int64_t>{3, 4, 4, 4, 4}));
}

TEST(MultiTensorAdamW, AmsgradFallsBackToAdamW) {
  auto reference_params = make_parameters();
  auto tested_params = make_parameters();
  torch::optim::AdamWOptions options(1e-3);
  options.amsgrad(true);
  torch::optim::AdamW reference(reference_params, options);
  MultiTensorAdamW tested(tested_params, options);
  for (int step = 0; step < 2; ++step) {
    for (std::size_t i = 0; i < reference_params.size(); ++i) {
      const torch::Tensor grad = torch::randn(reference_params[i].sizes());
      reference_params[i].mutable_grad() = grad.clone();
      tested_params[i].mutable_grad() = grad.clone();
    }
    reference.step();
    tested.step();
  }
  for (std::size_t i = 0; i < reference_params.size(); ++i) EXPECT_TRUE(torch::equal(reference_params[i], tested_params[i]));
}

}  // namespace
}  // namespace rtseg::framework::train
