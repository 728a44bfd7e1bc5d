#include "rtseg/sdk/autocast.h"

#include "autocast_state.h"

namespace rtseg::sdk {

torch::Tensor autocast_input(const torch::Tensor& x) {
  if (!x.defined() || x.scalar_type() != at::kFloat) return x;
  const detail::AutocastState state = detail::autocast_state(x.device().type());
  return state.enabled && state.dtype != at::kFloat ? x.to(state.dtype) : x;
}

}  // namespace rtseg::sdk
