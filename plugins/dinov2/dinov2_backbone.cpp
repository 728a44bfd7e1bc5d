#include "dinov2_backbone.h"

#include "hf_import.h"
#include "parameter_rules.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::dinov2 {

namespace {

std::int64_t level_stride(const std::string& scale, std::int64_t patch, std::int64_t previous) {
  if (scale == "P3") return patch / 2;
  if (scale == "P4") return patch;
  if (scale == "P5") return 2 * patch;
  return 2 * previous;  // P6 pools the level before it with stride 2
}

}  // namespace

Dinov2Backbone::Dinov2Backbone(const Dinov2Options& options, std::int64_t out_channels)
    : options_(options), vit_config_(vit_config_from(options)), out_channels_(out_channels) {
  // RF-DETR nests the ViT twice: Backbone.encoder (DinoV2) .encoder (the HF-style model).
  auto dinov2 = register_module("encoder", std::make_shared<torch::nn::Module>());
  vit_ = dinov2->register_module("encoder", std::make_shared<WindowedVit>(vit_config_));
  const std::vector<std::int64_t> in_channels(vit_config_.out_feature_indexes.size(),
                                              vit_config_.hidden_size);
  projector_ = register_module("projector", std::make_shared<MultiScaleProjector>(
                                                in_channels, out_channels, options.projector_scale,
                                                options.projector_blocks));
}

sdk::FeatureSpecs Dinov2Backbone::output_spec() const {
  sdk::FeatureSpecs specs;
  std::int64_t previous = vit_config_.patch_size;
  for (const std::string& scale : options_.projector_scale) {
    const std::int64_t stride = level_stride(scale, vit_config_.patch_size, previous);
    specs.push_back({"p" + scale.substr(1), out_channels_, stride});
    previous = stride;
  }
  return specs;
}

std::int64_t Dinov2Backbone::size_divisibility() const {
  return vit_config_.patch_size * vit_config_.num_windows;
}

std::vector<torch::Tensor> Dinov2Backbone::forward(const torch::Tensor& images) {
  const std::int64_t block = size_divisibility();
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % block != 0 ||
      images.size(3) % block != 0) {
    throw sdk::Error("dinov2 backbone: expected images [B, 3, H, W] with H and W multiples of " +
                     std::to_string(block) + " (patch_size x num_windows), got " +
                     c10::str(images.sizes()));
  }
  return projector_->forward(vit_->forward(images));
}

bool Dinov2Backbone::set_gradient_checkpointing(bool enabled) {
  vit_->set_gradient_checkpointing(enabled);
  return true;
}

std::map<std::string, sdk::ParameterHint> Dinov2Backbone::parameter_hints() const {
  const int num_layers = static_cast<int>(vit_config_.out_feature_indexes.back() + 1);
  std::map<std::string, sdk::ParameterHint> hints;
  for (const auto& parameter : named_parameters()) {
    hints[parameter.key()] = dinov2_parameter_hint(parameter.key(), num_layers);
  }
  return hints;
}

void Dinov2Backbone::freeze_encoder() {
  for (auto& parameter : vit_->parameters()) parameter.set_requires_grad(false);
}

std::unique_ptr<Dinov2Backbone> make_dinov2(Dinov2Options options,
                                            const sdk::BuildContext& context) {
  if (context.model.hidden_dim <= 0) {
    throw sdk::ConfigError(
        "model.hidden_dim must be positive: the dinov2 backbone's projector outputs that many "
        "channels (got " +
        std::to_string(context.model.hidden_dim) + ").");
  }
  auto backbone = std::make_unique<Dinov2Backbone>(options, context.model.hidden_dim);
  if (!options.pretrained.empty()) {
    std::filesystem::path file = options.pretrained;
    if (file.is_relative() && !context.recipe_dir.empty()) file = context.recipe_dir / file;
    import_hf_dinov2(backbone->vit(), file, context.logger);
  }
  if (options.freeze) backbone->freeze_encoder();
  return backbone;
}

}  // namespace rtseg::plugins::dinov2
