#include "hf_import.h"

#include <cmath>
#include <string>

#include <c10/util/StringUtil.h>
#include <spdlog/logger.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "embeddings.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"

namespace rtseg::plugins::dinov2 {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& problem) {
  throw sdk::DataError("cannot import the DINOv2 weights in '" + file.string() + "': " + problem);
}

std::string shape_text(c10::IntArrayRef sizes) { return c10::str(sizes); }

// The file's table [1, 1 + S'*S', C] on our S x S grid.
torch::Tensor fit_position_table(const torch::Tensor& stored, const torch::Tensor& ours,
                                 const std::filesystem::path& file) {
  const auto square_side = [](std::int64_t rows) {
    const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(rows))));
    return side * side == rows ? side : -1;
  };
  const bool table_like = stored.dim() == 3 && stored.size(0) == 1 && stored.size(1) > 1 &&
                          stored.size(2) == ours.size(2);
  const std::int64_t side = table_like ? square_side(stored.size(1) - 1) : -1;
  if (side < 0) {
    fail(file, "tensor 'embeddings.position_embeddings' has shape " + shape_text(stored.sizes()) +
                   ", expected [1, 1 + S*S, " + std::to_string(ours.size(2)) + "]");
  }
  const std::int64_t our_side = square_side(ours.size(1) - 1);
  if (side == our_side) return stored;
  return resize_position_table(stored.to(torch::kFloat), our_side, our_side);
}

}  // namespace

void import_hf_dinov2(WindowedVit& vit, const std::filesystem::path& file,
                      const std::shared_ptr<spdlog::logger>& logger) {
  // The reader's own errors are DataErrors naming the file.
  const sdk::SafetensorsFile weights = sdk::SafetensorsFile::open(file);
  torch::NoGradGuard no_grad;
  std::size_t copied = 0;
  for (auto& parameter : vit.named_parameters()) {
    const std::string& name = parameter.key();
    torch::Tensor& ours = parameter.value();
    if (!weights.contains(name)) fail(file, "it has no tensor '" + name + "'");
    torch::Tensor stored = weights.get(name);
    if (name == "embeddings.position_embeddings") stored = fit_position_table(stored, ours, file);
    if (stored.sizes() != ours.sizes()) {
      fail(file, "tensor '" + name + "' has shape " + shape_text(stored.sizes()) + ", expected " +
                     shape_text(ours.sizes()));
    }
    ours.copy_(stored);
    ++copied;
  }
  if (logger) logger->info("dinov2: imported {} tensors from {}", copied, file.string());
}

}  // namespace rtseg::plugins::dinov2
