#include "windowing.h"

#include <ATen/ATen.h>

namespace rtseg::plugins::dinov2 {

at::Tensor window_tokens(const at::Tensor& tokens, std::int64_t grid_h, std::int64_t grid_w,
                         std::int64_t windows) {
  if (windows == 1) return tokens;
  const std::int64_t batch = tokens.size(0);
  const std::int64_t channels = tokens.size(2);
  const std::int64_t rows = grid_h / windows;  // patch rows per window
  const std::int64_t cols = grid_w / windows;  // patch columns per window
  // [B, Hp, Wp, C] -> [(B, window row), row, window col, col, C] -> swap the middle axes.
  return tokens.reshape({batch * windows, rows, windows, cols, channels})
      .permute({0, 2, 1, 3, 4})
      .reshape({batch * windows * windows, rows * cols, channels});
}

at::Tensor unwindow_to_map(const at::Tensor& tokens, std::int64_t grid_h, std::int64_t grid_w,
                           std::int64_t windows) {
  const std::int64_t channels = tokens.size(2);
  const std::int64_t batch = tokens.size(0) / (windows * windows);
  at::Tensor grid = tokens;
  if (windows > 1) {
    const std::int64_t rows = grid_h / windows;
    const std::int64_t cols = grid_w / windows;
    grid =
        tokens.reshape({batch * windows, windows, rows, cols, channels}).permute({0, 2, 1, 3, 4});
  }
  return grid.reshape({batch, grid_h, grid_w, channels}).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace rtseg::plugins::dinov2
