#include "rtseg/sdk/recompute.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "autocast_state.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::sdk {
namespace {

// Autocast settings of one device type: captured at forward and re-applied for the recompute,
// because backward may run on another thread, whose autocast state is the default.
struct AutocastSetting {
  c10::DeviceType device = c10::DeviceType::CPU;
  detail::AutocastState state;

  static AutocastSetting capture(c10::DeviceType device) { return {device, detail::autocast_state(device)}; }
  bool enabled() const { return state.enabled; }
  void apply() const { detail::set_autocast_state(device, state); }
};

// Both devices' autocast settings, applied for one scope. Like leaving torch.autocast, the cast
// cache is cleared when the outermost autocast scope ends, so that casts of parameters made
// during the recompute do not outlive it (they would go stale after an optimizer step).
struct AutocastSettings {
  AutocastSetting cuda = AutocastSetting::capture(c10::DeviceType::CUDA);
  AutocastSetting cpu = AutocastSetting::capture(c10::DeviceType::CPU);
  bool any() const { return cuda.enabled() || cpu.enabled(); }
};

class AppliedAutocast {
 public:
  explicit AppliedAutocast(const AutocastSettings& wanted) : active_(wanted.any()) {
    wanted.cuda.apply();
    wanted.cpu.apply();
    if (active_) at::autocast::increment_nesting();
  }
  ~AppliedAutocast() {
    if (active_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    previous_.cuda.apply();
    previous_.cpu.apply();
  }
  AppliedAutocast(const AppliedAutocast&) = delete;
  AppliedAutocast& operator=(const AppliedAutocast&) = delete;

 private:
  AutocastSettings previous_;
  bool active_;
};

// What backward needs besides the saved inputs, kept in the context as an opaque capsule.
struct Call : torch::CustomClassHolder {
  RecomputedFunction function;
  std::vector<torch::Tensor> parameters;
  AutocastSettings autocast;
};

class RecomputeFunction : public torch::autograd::Function<RecomputeFunction> {
 public:
  // Inputs and parameters are TensorLists so that each tensor becomes an input of the node.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, at::TensorList inputs,
                                                at::TensorList parameters, c10::intrusive_ptr<Call> call) {
    (void)parameters;  // the same tensors are in `call`; they only had to be graph inputs
    std::vector<torch::Tensor> held(inputs.begin(), inputs.end());
    ctx->save_for_backward(held);
    ctx->saved_data["inputs"] = static_cast<std::int64_t>(inputs.size());
    std::vector<torch::Tensor> outputs = call->function(held);
    ctx->saved_data["call"] = c10::IValue::make_capsule(std::move(call));
    return outputs;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto call = c10::static_intrusive_pointer_cast<Call>(ctx->saved_data["call"].toCapsule());
    const auto input_count = static_cast<std::size_t>(ctx->saved_data["inputs"].toInt());
    const std::size_t parameter_count = call->parameters.size();
    // One slot per forward input: each input, each parameter, and the (non-tensor) capsule.
    torch::autograd::variable_list grads(input_count + parameter_count + 1);

    std::vector<torch::Tensor> inputs;
    std::vector<torch::Tensor> wrt;
    std::vector<std::size_t> slots;
    for (const torch::Tensor& saved : ctx->get_saved_variables()) {
      const std::size_t slot = inputs.size();
      torch::Tensor input = saved.defined() ? saved.detach() : saved;
      if (input.defined() && ctx->needs_input_grad(slot) && input.is_floating_point()) {
        input.requires_grad_(true);
        wrt.push_back(input);
        slots.push_back(slot);
      }
      inputs.push_back(input);
    }
    for (std::size_t i = 0; i < parameter_count; ++i) {
      if (ctx->needs_input_grad(input_count + i) && call->parameters[i].requires_grad()) {
        wrt.push_back(call->parameters[i]);
        slots.push_back(input_count + i);
      }
    }
    if (wrt.empty()) return grads;

    std::vector<torch::Tensor> outputs;
    {
      torch::AutoGradMode grad_on(true);
      AppliedAutocast autocast(call->autocast);
      outputs = call->function(inputs);
    }
    // Only the outputs that received a gradient and are part of the recomputed graph.
    std::vector<torch::Tensor> roots, root_grads;
    for (std::size_t i = 0; i < outputs.size() && i < grad_outputs.size(); ++i) {
      if (grad_outputs[i].defined() && outputs[i].requires_grad()) {
        roots.push_back(outputs[i]);
        root_grads.push_back(grad_outputs[i]);
      }
    }
    if (roots.empty()) return grads;
    const auto computed = torch::autograd::grad(roots, wrt, root_grads, /*retain_graph=*/false,
                                                /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < slots.size(); ++i) grads[slots[i]] = computed[i];
    return grads;
  }
};

}  // namespace

RecomputePolicy recompute_policy_from(ConfigReader& reader, std::string_view what) {
  const std::string doc = "recompute " + std::string(what) +
                          " in backward instead of holding them: \"gpu\" (on CUDA devices, where memory is "
                          "scarce and compute cheap), \"always\" or \"never\"; same gradients";
  const std::string value = reader.choice("recompute", "gpu", {"gpu", "always", "never"}, doc);
  if (value == "always") return RecomputePolicy::kAlways;
  if (value == "never") return RecomputePolicy::kNever;
  return RecomputePolicy::kOnGpu;
}

std::vector<torch::Tensor> recompute_in_backward(const RecomputedFunction& function,
                                                 const std::vector<torch::Tensor>& inputs,
                                                 const std::vector<torch::Tensor>& parameters) {
  bool wants_grad = false;
  if (torch::GradMode::is_enabled()) {
    for (const auto& tensor : inputs) wants_grad = wants_grad || (tensor.defined() && tensor.requires_grad());
    for (const auto& tensor : parameters) wants_grad = wants_grad || tensor.requires_grad();
  }
  if (!wants_grad) return function(inputs);
  auto call = c10::make_intrusive<Call>();
  call->function = function;
  call->parameters = parameters;
  return RecomputeFunction::apply(at::TensorList(inputs), at::TensorList(parameters), std::move(call));
}

}  // namespace rtseg::sdk
