#pragma once

#include <filesystem>
#include <memory>

#include "windowed_vit.h"

namespace spdlog {
class logger;
}

namespace rtseg::plugins::dinov2 {

/// Copies a Hugging Face DINOv2 checkpoint (facebook/dinov2-small etc., model.safetensors) into
/// the ViT. The file's names are the ViT's own (embeddings.*, encoder.layer.N.*, layernorm.*).
/// A position table of another grid is resized with the antialiased bicubic rule; every other
/// tensor must match in shape. Extra tensors in the file (e.g. more layers) are ignored.
/// Throws sdk::DataError naming the file and the first missing or mismatched tensor.
void import_hf_dinov2(WindowedVit& vit, const std::filesystem::path& file,
                      const std::shared_ptr<spdlog::logger>& logger);

}  // namespace rtseg::plugins::dinov2
