#include "rtseg/framework/train/multi_tensor_adamw.h"

#include <cmath>
#include <map>

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_addcdiv.h>
#include <ATen/ops/_foreach_addcmul.h>
#include <ATen/ops/_foreach_div.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_sqrt.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#include <ATen/ops/_fused_adamw.h>
#define RTSEG_HAS_FUSED_ADAMW 1
#else
#define RTSEG_HAS_FUSED_ADAMW 0
#endif

#include "optimizer_state_key.h"

namespace rtseg::framework::train {
namespace {

using torch::optim::AdamWOptions;

const AdamWOptions& options_of(const torch::optim::OptimizerParamGroup& group) {
  return static_cast<const AdamWOptions&>(group.options());
}

// Whether every group shares betas and eps and none asks for amsgrad (what the multi-tensor
// paths assume; rtseg's groups always do).
bool uniform_options(const std::vector<torch::optim::OptimizerParamGroup>& groups) {
  const AdamWOptions& first = options_of(groups.front());
  for (const auto& group : groups) {
    const AdamWOptions& options = options_of(group);
    if (options.amsgrad() || options.betas() != first.betas() || options.eps() != first.eps()) return false;
  }
  return true;
}

}  // namespace

torch::optim::AdamWParamState& MultiTensorAdamW::state_of(const torch::Tensor& parameter) {
  auto& slot = state_[optimizer_state_key(parameter)];
  if (!slot) {
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(0);
    state->exp_avg(at::zeros_like(parameter, at::MemoryFormat::Preserve));
    state->exp_avg_sq(at::zeros_like(parameter, at::MemoryFormat::Preserve));
    slot = std::move(state);
  }
  return static_cast<torch::optim::AdamWParamState&>(*slot);
}

torch::Tensor MultiTensorAdamW::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode grad(true);
    loss = closure();
  }
  if (param_groups_.empty() || !uniform_options(param_groups_)) {
    torch::optim::AdamW::step();
    return loss;
  }
  torch::NoGradGuard no_grad;
#if RTSEG_HAS_FUSED_ADAMW
  const torch::Tensor& first = param_groups_.front().params().front();
  if (first.is_cuda()) {
    fused_step();
    return loss;
  }
#endif
  foreach_step();
  return loss;
}

void MultiTensorAdamW::foreach_step() {
  // Tensors whose states have taken the same number of steps share the bias corrections; in
  // practice that is all of them.
  struct Lists {
    std::vector<torch::Tensor> parameters, grads, exp_avgs, exp_avg_sqs, decayed;
    std::vector<at::Scalar> decay_factors, step_sizes;
  };
  std::map<std::int64_t, Lists> by_step;
  const auto [beta1, beta2] = options_of(param_groups_.front()).betas();
  const double eps = options_of(param_groups_.front()).eps();
  for (auto& group : param_groups_) {
    const AdamWOptions& options = options_of(group);
    for (auto& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      torch::optim::AdamWParamState& state = state_of(parameter);
      state.step(state.step() + 1);
      Lists& lists = by_step[state.step()];
      lists.parameters.push_back(parameter);
      lists.grads.push_back(parameter.grad());
      lists.exp_avgs.push_back(state.exp_avg());
      lists.exp_avg_sqs.push_back(state.exp_avg_sq());
      if (options.weight_decay() != 0) {
        lists.decayed.push_back(parameter);
        lists.decay_factors.emplace_back(1 - options.lr() * options.weight_decay());
      }
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      lists.step_sizes.emplace_back(-options.lr() / bias_correction1);
    }
  }
  for (auto& [step, lists] : by_step) {
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
    if (!lists.decayed.empty()) at::_foreach_mul_(lists.decayed, lists.decay_factors);
    at::_foreach_mul_(lists.exp_avgs, beta1);
    at::_foreach_add_(lists.exp_avgs, lists.grads, 1 - beta1);
    at::_foreach_mul_(lists.exp_avg_sqs, beta2);
    at::_foreach_addcmul_(lists.exp_avg_sqs, lists.grads, lists.grads, 1 - beta2);
    std::vector<torch::Tensor> denominators = at::_foreach_sqrt(lists.exp_avg_sqs);
    at::_foreach_div_(denominators, std::sqrt(bias_correction2));
    at::_foreach_add_(denominators, eps);
    at::_foreach_addcdiv_(lists.parameters, lists.exp_avgs, denominators, lists.step_sizes);
  }
}

void MultiTensorAdamW::fused_step() {
#if RTSEG_HAS_FUSED_ADAMW
  const auto [beta1, beta2] = options_of(param_groups_.front()).betas();
  const double eps = options_of(param_groups_.front()).eps();
  for (auto& group : param_groups_) {
    const AdamWOptions& options = options_of(group);
    std::map<std::int64_t, std::vector<torch::Tensor>> parameters_by_step;
    for (auto& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      torch::optim::AdamWParamState& state = state_of(parameter);
      state.step(state.step() + 1);
      parameters_by_step[state.step()].push_back(parameter);
    }
    for (auto& [step, parameters] : parameters_by_step) {
      std::vector<torch::Tensor> grads, exp_avgs, exp_avg_sqs;
      for (const auto& parameter : parameters) {
        torch::optim::AdamWParamState& state = state_of(parameter);
        grads.push_back(parameter.grad());
        exp_avgs.push_back(state.exp_avg());
        exp_avg_sqs.push_back(state.exp_avg_sq());
      }
      // The kernel reads (and does not advance) a step count per tensor; one device scalar
      // serves them all.
      const torch::Tensor count =
          at::full({}, static_cast<double>(step), parameters.front().options().dtype(at::kFloat));
      const std::vector<torch::Tensor> steps(parameters.size(), count);
      at::_fused_adamw_(parameters, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, options.lr(),
                        beta1, beta2, options.weight_decay(), eps, /*amsgrad=*/false, /*maximize=*/false);
    }
  }
#endif
}

}  // namespace rtseg::framework::train
