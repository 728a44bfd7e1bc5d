#pragma once

// Internal: how LibTorch keys an optimizer's per-parameter state -- by the parameter's
// TensorImpl, as a string of the pointer up to 1.13 and as the pointer itself from 2.0.

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include <torch/optim/optimizer.h>

namespace rtseg::framework::train {

using OptimizerStateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <class Key = OptimizerStateKey>
Key optimizer_state_key(const torch::Tensor& parameter) {
  c10::TensorImpl* impl = parameter.unsafeGetTensorImpl();
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // what c10::guts::to_string writes
    text << static_cast<void*>(impl);
    return text.str();
  } else {
    return impl;
  }
}

}  // namespace rtseg::framework::train
