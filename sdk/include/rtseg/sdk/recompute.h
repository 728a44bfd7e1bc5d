#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

class ConfigReader;

/// When a component recomputes activations instead of holding them. On a GPU memory is the
/// scarce resource and matmuls are cheap; on the CPU it is the other way round.
enum class RecomputePolicy { kNever, kOnGpu, kAlways };

/// Reads the component's `recompute` key ("gpu" by default, "always", "never"); `what` says
/// which activations the component rebuilds, for the recipe docs.
RTSEG_SDK_API RecomputePolicy recompute_policy_from(ConfigReader& reader, std::string_view what);

/// Whether `policy` recomputes for activations on `like`'s device.
inline bool recomputes(RecomputePolicy policy, const torch::Tensor& like) {
  return policy == RecomputePolicy::kAlways || (policy == RecomputePolicy::kOnGpu && like.is_cuda());
}

/// A piece of a model to run without keeping its activations: tensors in, tensors out. It must
/// compute the same thing when called again (no random draws of its own).
using RecomputedFunction = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>& inputs)>;

/// Activation recomputation (torch.utils.checkpoint's reentrant form, which LibTorch lacks):
/// runs `function` without recording its graph, keeping only `inputs`; backward runs it again
/// with grad enabled -- under the autocast settings it first ran with -- and back-propagates to
/// the inputs and to `parameters` (every parameter the function uses that may need a gradient).
/// Gradients equal the plain forward's; the activations inside the function are held only
/// while its own backward runs.
///
/// Worth it where a piece holds much memory for little compute (normalisations, activations,
/// narrow layers on large maps); keep pieces small, because a piece's activations all exist at
/// once while it is recomputed. With no gradient wanted it is simply `function(inputs)`.
RTSEG_SDK_API std::vector<torch::Tensor> recompute_in_backward(const RecomputedFunction& function,
                                                               const std::vector<torch::Tensor>& inputs,
                                                               const std::vector<torch::Tensor>& parameters);

}  // namespace rtseg::sdk
