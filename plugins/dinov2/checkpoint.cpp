#include "checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

namespace rtseg::plugins::dinov2 {

namespace {

// Autocast settings of one device type, captured at forward and re-applied for the recompute
// (backward may run on another thread, whose autocast state is the default).
struct AutocastState {
  c10::DeviceType device = c10::DeviceType::CPU;
  bool enabled = false;
  at::ScalarType dtype = at::kFloat;

  static AutocastState capture(c10::DeviceType device) {
    AutocastState state;
    state.device = device;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    state.enabled = at::autocast::is_autocast_enabled(device);
    state.dtype = at::autocast::get_autocast_dtype(device);
#else
    const bool cuda = device == c10::DeviceType::CUDA;
    state.enabled = cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    state.dtype =
        cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
    return state;
  }

  void apply() const {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(device, enabled);
    at::autocast::set_autocast_dtype(device, dtype);
#else
    if (device == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(enabled);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(enabled);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
  }
};

// Applies a captured autocast state for one scope and restores the previous one. Like
// torch.autocast's exit, the cast cache is cleared when the outermost autocast scope ends, so
// that casts of parameters do not outlive the recomputation (they would go stale after an
// optimizer step).
class AutocastScope {
 public:
  explicit AutocastScope(const AutocastState& wanted)
      : previous_(AutocastState::capture(wanted.device)), active_(wanted.enabled) {
    wanted.apply();
    if (active_) at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (active_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    previous_.apply();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  AutocastState previous_;
  bool active_;
};

// What backward needs besides the saved input; kept in the context as an opaque capsule.
struct LayerCall : torch::CustomClassHolder {
  std::shared_ptr<VitLayer> layer;
  std::vector<torch::Tensor> parameters;  // in the order they were passed as inputs
  bool full_attention = false;
  DropPathMasks masks;
  AutocastState autocast;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  // `parameters` is a TensorList so that each parameter becomes an input of the node.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               at::TensorList parameters, c10::intrusive_ptr<LayerCall> call) {
    (void)parameters;  // the same tensors are in `call`; they only had to be graph inputs
    ctx->save_for_backward({x});
    torch::Tensor out = call->layer->forward(x, call->full_attention, call->masks);
    ctx->saved_data["call"] = c10::IValue::make_capsule(std::move(call));
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto call =
        c10::static_intrusive_pointer_cast<LayerCall>(ctx->saved_data["call"].toCapsule());
    const std::size_t count = call->parameters.size();
    // One slot per forward input: x, each parameter, and the (non-tensor) call capsule.
    torch::autograd::variable_list grads(1 + count + 1);

    torch::Tensor x = ctx->get_saved_variables()[0].detach();
    std::vector<torch::Tensor> wrt;
    std::vector<std::size_t> slots;
    if (ctx->needs_input_grad(0)) {
      x.requires_grad_(true);
      wrt.push_back(x);
      slots.push_back(0);
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (ctx->needs_input_grad(1 + i) && call->parameters[i].requires_grad()) {
        wrt.push_back(call->parameters[i]);
        slots.push_back(1 + i);
      }
    }
    if (wrt.empty()) return grads;

    torch::Tensor out;
    {
      torch::AutoGradMode grad_on(true);
      AutocastScope autocast(call->autocast);
      out = call->layer->forward(x, call->full_attention, call->masks);
    }
    const auto computed = torch::autograd::grad({out}, wrt, {grad_outputs[0]},
                                                /*retain_graph=*/false, /*create_graph=*/false,
                                                /*allow_unused=*/true);
    for (std::size_t i = 0; i < slots.size(); ++i) grads[slots[i]] = computed[i];
    return grads;
  }
};

}  // namespace

torch::Tensor checkpointed_layer_forward(const std::shared_ptr<VitLayer>& layer,
                                         const torch::Tensor& x, bool full_attention,
                                         const DropPathMasks& masks) {
  auto call = c10::make_intrusive<LayerCall>();
  call->layer = layer;
  call->parameters = layer->parameters();
  call->full_attention = full_attention;
  call->masks = masks;
  call->autocast = AutocastState::capture(x.device().type());
  const std::vector<torch::Tensor> parameters = call->parameters;
  return CheckpointFunction::apply(x, at::TensorList(parameters), std::move(call));
}

}  // namespace rtseg::plugins::dinov2
