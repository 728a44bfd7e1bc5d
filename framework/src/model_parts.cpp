#include "rtseg/framework/model_parts.h"

#include <torch/torch.h>

#include "rtseg/framework/registry.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/components/backbone.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::framework {

template <class T>
std::shared_ptr<T> build_component(const Registry& registry, const RecipeDocument& document,
                                   const ComponentRef& ref, const sdk::BuildContext& context) {
  const toml::table* section = document.root().at_path(ref.path).as_table();
  sdk::ConfigReader reader(section, ref.path, "", document.origin_lookup());
  reader.skip("type");
  return registry.create<T>(ref.type, reader, context);
}

ModelParts build_model_parts(const Registry& registry, const RecipeDocument& document,
                             const CheckedRecipe& recipe, sdk::BuildContext context) {
  ModelParts parts;
  context.model = model_settings(recipe.model);
  context.inputs.clear();
  parts.backbone = build_component<sdk::Backbone>(registry, document, recipe.backbone, context);
  context.inputs = parts.backbone->output_spec();
  parts.decoder = build_component<sdk::Decoder>(registry, document, recipe.decoder, context);
  context.decoder = parts.decoder->spec();
  if (recipe.seg_head) {
    parts.seg_head = build_component<sdk::SegHead>(registry, document, *recipe.seg_head, context);
  }
  parts.backbone->eval();
  parts.decoder->eval();
  if (parts.seg_head) parts.seg_head->eval();
  return parts;
}

namespace {

std::string shape_text(c10::IntArrayRef sizes) {
  std::string text = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

std::string shape_text(const torch::Tensor& tensor) {
  return tensor.defined() ? shape_text(tensor.sizes()) : std::string("(none)");
}

}  // namespace

std::vector<std::string> probe_model(const ModelParts& parts, std::int64_t resolution) {
  std::vector<std::string> lines;
  const std::int64_t divisor = parts.backbone->size_divisibility();
  if (divisor > 0 && resolution % divisor != 0) {
    throw sdk::Error("resolution " + std::to_string(resolution) + " is not a multiple of " +
                     std::to_string(divisor) + ", which the backbone requires; use " +
                     std::to_string(std::max<std::int64_t>(divisor, resolution / divisor * divisor)) +
                     ".");
  }
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().device(parts.backbone->parameters().empty()
                                                          ? torch::kCPU
                                                          : parts.backbone->parameters()[0].device());
  const torch::Tensor images = torch::zeros({1, 3, resolution, resolution}, options);
  const std::vector<torch::Tensor> features = parts.backbone->forward(images);
  const sdk::FeatureSpecs spec = parts.backbone->output_spec();
  if (features.size() != spec.size()) {
    throw sdk::Error("the backbone returned " + std::to_string(features.size()) +
                     " feature maps but publishes " + std::to_string(spec.size()) + ".");
  }
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::vector<std::int64_t> expected = {1, spec[i].channels, resolution / spec[i].stride,
                                                resolution / spec[i].stride};
    if (features[i].sizes() != c10::IntArrayRef(expected)) {
      throw sdk::Error("backbone output '" + spec[i].name + "' has shape " +
                       shape_text(features[i]) + " but its spec (" +
                       std::to_string(spec[i].channels) + " channels, stride " +
                       std::to_string(spec[i].stride) + ") says " +
                       shape_text(expected) + ".");
    }
    lines.push_back("backbone " + spec[i].name + ": " + shape_text(features[i]));
  }
  const torch::Tensor padding = torch::zeros({1, resolution, resolution}, options.dtype(torch::kBool));
  const sdk::DecoderOutputs decoded = parts.decoder->forward(features, padding);
  for (std::size_t i = 0; i < decoded.layers.size(); ++i) {
    const auto& layer = decoded.layers[i];
    lines.push_back("decoder layer " + std::to_string(i) + ": logits " + shape_text(layer.logits) +
                    ", boxes " + shape_text(layer.boxes));
  }
  if (parts.seg_head) {
    const sdk::MaskOutputs masks = parts.seg_head->forward(features, decoded, {resolution, resolution});
    if (!masks.layers.empty()) {
      lines.push_back("masks: " + shape_text(sdk::mask_logits(masks.layers.back())));
    }
  }
  return lines;
}

template std::shared_ptr<sdk::Backbone> build_component(const Registry&, const RecipeDocument&,
                                                        const ComponentRef&, const sdk::BuildContext&);
template std::shared_ptr<sdk::Decoder> build_component(const Registry&, const RecipeDocument&,
                                                       const ComponentRef&, const sdk::BuildContext&);
template std::shared_ptr<sdk::SegHead> build_component(const Registry&, const RecipeDocument&,
                                                       const ComponentRef&, const sdk::BuildContext&);
template std::shared_ptr<sdk::Dataset> build_component(const Registry&, const RecipeDocument&,
                                                       const ComponentRef&, const sdk::BuildContext&);
template std::shared_ptr<sdk::Scheduler> build_component(const Registry&, const RecipeDocument&,
                                                         const ComponentRef&, const sdk::BuildContext&);

}  // namespace rtseg::framework
