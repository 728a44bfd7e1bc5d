#include "sine_embedding.h"

#include <cmath>
#include <string>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::lwdetr {
namespace {

// [B, Q] coordinate -> [B, Q, num_feats] with sin/cos interleaved.
torch::Tensor embed_coordinate(const torch::Tensor& coordinate, const torch::Tensor& dim_t) {
  const torch::Tensor scaled = (coordinate * (2.0 * M_PI)).unsqueeze(-1) / dim_t;
  using torch::indexing::None;
  using torch::indexing::Slice;
  const torch::Tensor sines = scaled.index({"...", Slice(0, None, 2)}).sin();
  const torch::Tensor cosines = scaled.index({"...", Slice(1, None, 2)}).cos();
  return torch::stack({sines, cosines}, 3).flatten(2);
}

}  // namespace

torch::Tensor sine_position_embedding(const torch::Tensor& positions, std::int64_t num_feats) {
  const std::int64_t coordinates = positions.size(-1);
  if (positions.dim() != 3 || (coordinates != 2 && coordinates != 4)) {
    throw sdk::Error("sine_position_embedding: positions must be [B, Q, 2] or [B, Q, 4], got " +
                     std::to_string(positions.dim()) + " dimensions with last size " +
                     std::to_string(coordinates) + ".");
  }
  // 10000^(2 * floor(i / 2) / num_feats), computed in the positions' dtype as RF-DETR does.
  const torch::Tensor index = torch::arange(num_feats, positions.options());
  const torch::Tensor exponent = 2 * torch::floor(index / 2) / static_cast<double>(num_feats);
  const torch::Tensor dim_t = torch::pow(10000.0, exponent);

  const torch::Tensor pos_x = embed_coordinate(positions.select(-1, 0), dim_t);
  const torch::Tensor pos_y = embed_coordinate(positions.select(-1, 1), dim_t);
  if (coordinates == 2) return torch::cat({pos_y, pos_x}, 2);
  const torch::Tensor pos_w = embed_coordinate(positions.select(-1, 2), dim_t);
  const torch::Tensor pos_h = embed_coordinate(positions.select(-1, 3), dim_t);
  return torch::cat({pos_y, pos_x, pos_w, pos_h}, 2);
}

}  // namespace rtseg::plugins::lwdetr
