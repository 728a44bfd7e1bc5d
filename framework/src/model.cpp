#include "rtseg/framework/model.h"

#include <optional>
#include <sstream>

#include <torch/torch.h>

#include "rtseg/framework/registry.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {

Model::Model(std::shared_ptr<sdk::Backbone> backbone, std::shared_ptr<sdk::Decoder> decoder,
             std::shared_ptr<sdk::SegHead> seg_head)
    : backbone_(std::move(backbone)), decoder_(std::move(decoder)), seg_head_(std::move(seg_head)) {
  attach(backbone_->state_prefix(), backbone_);
  attach(decoder_->state_prefix(), decoder_);
  if (seg_head_) attach(seg_head_->state_prefix(), seg_head_);
}

void Model::attach(const std::string& prefix, const std::shared_ptr<torch::nn::Module>& component) {
  if (prefix.empty()) {
    // The component's contents go to the root; the component object itself is not in the tree,
    // which is why train() switches it explicitly.
    for (const auto& child : component->named_children()) register_module(child.key(), child.value());
    for (const auto& parameter : component->named_parameters(/*recurse=*/false)) {
      register_parameter(parameter.key(), parameter.value(), parameter.value().requires_grad());
    }
    for (const auto& buffer : component->named_buffers(/*recurse=*/false)) {
      register_buffer(buffer.key(), buffer.value());
    }
    return;
  }
  // "backbone.0" -> holder module "backbone" with the component as child "0".
  torch::nn::Module* parent = this;
  std::stringstream parts(prefix);
  std::string part;
  std::vector<std::string> names;
  while (std::getline(parts, part, '.')) names.push_back(part);
  for (std::size_t i = 0; i + 1 < names.size(); ++i) {
    auto children = parent->named_children();
    auto* existing = children.find(names[i]);
    std::shared_ptr<torch::nn::Module> holder =
        existing ? *existing : parent->register_module(names[i], std::make_shared<torch::nn::Module>());
    parent = holder.get();
  }
  parent->register_module(names.back(), component);
}

void Model::train(bool on) {
  torch::nn::Module::train(on);
  backbone_->train(on);
  decoder_->train(on);
  if (seg_head_) seg_head_->train(on);
}

std::vector<torch::Tensor> feature_masks(const torch::Tensor& padding_mask,
                                         const std::vector<torch::Tensor>& features) {
  std::vector<torch::Tensor> masks;
  masks.reserve(features.size());
  for (const auto& feature : features) {
    masks.push_back(torch::nn::functional::interpolate(
                        padding_mask.unsqueeze(0).to(torch::kFloat),
                        torch::nn::functional::InterpolateFuncOptions()
                            .size(std::vector<std::int64_t>{feature.size(2), feature.size(3)})
                            .mode(torch::kNearest))
                        .squeeze(0)
                        .to(torch::kBool));
  }
  return masks;
}

std::vector<torch::Tensor> Model::masks_for(const torch::Tensor& padding_mask,
                                            const std::vector<torch::Tensor>& features) const {
  if (padding_mask.defined()) return feature_masks(padding_mask, features);
  std::vector<torch::Tensor> masks;
  for (const auto& feature : features) {
    masks.push_back(torch::zeros({feature.size(0), feature.size(2), feature.size(3)},
                                 feature.options().dtype(torch::kBool)));
  }
  return masks;
}

ModelOutputs Model::forward(const torch::Tensor& images, const torch::Tensor& padding_mask) {
  ModelOutputs out;
  {
    // A frozen detector runs without recording its autograd graph: only the head trains, and
    // the detector's activations are freed as soon as the head has read them.
    std::optional<torch::NoGradGuard> no_grad;
    if (detector_frozen_) no_grad.emplace();
    out.features = backbone_->forward(images);
    out.detections = decoder_->forward(out.features, masks_for(padding_mask, out.features));
  }
  if (seg_head_) out.masks = seg_head_->forward(images, out.features, out.detections);
  return out;
}

Prediction Model::predict(const torch::Tensor& images, const torch::Tensor& padding_mask) {
  if (is_training()) eval();
  const std::vector<torch::Tensor> features = backbone_->forward(images);
  const sdk::DecoderOutputs decoded = decoder_->forward(features, masks_for(padding_mask, features));
  Prediction prediction;
  prediction.detections = decoded.layers.back();
  if (seg_head_) prediction.masks = seg_head_->predict(images, features, decoded);
  return prediction;
}

template <class T>
std::shared_ptr<T> build_component(const Registry& registry, const RecipeDocument& document,
                                   const ComponentRef& ref, const sdk::BuildContext& context) {
  const toml::table* section = document.root().at_path(ref.path).as_table();
  sdk::ConfigReader reader(section, ref.path, "", document.origin_lookup());
  reader.skip("type");
  return registry.create<T>(ref.type, reader, context);
}

void check_resolution(const sdk::Backbone& backbone, const RecipeDocument& document, std::int64_t resolution) {
  const std::int64_t divisor = backbone.size_divisibility();
  if (divisor <= 1 || resolution % divisor == 0) return;
  const std::int64_t lower = std::max(divisor, resolution / divisor * divisor);
  const std::int64_t higher = resolution / divisor * divisor + divisor;
  throw sdk::ConfigError(document.origin("model.resolution").to_string() + ": model.resolution = " +
                         std::to_string(resolution) + " cannot be taken by the backbone: sides must be multiples of " +
                         std::to_string(divisor) + " (its size divisibility, e.g. patch size x windows); use " +
                         (lower == higher ? std::string() : std::to_string(lower) + " or ") + std::to_string(higher) +
                         " (--resolution).");
}

void check_backbone_resolution(const Registry& registry, const RecipeDocument& document, const CheckedRecipe& recipe,
                               sdk::BuildContext context) {
  context.model = model_settings(recipe.model);
  context.inputs.clear();
  check_resolution(*build_component<sdk::Backbone>(registry, document, recipe.backbone, context), document,
                   recipe.model.resolution);
}

std::shared_ptr<Model> build_model(const Registry& registry, const RecipeDocument& document,
                                   const CheckedRecipe& recipe, sdk::BuildContext context) {
  context.model = model_settings(recipe.model);
  context.inputs.clear();
  auto backbone = build_component<sdk::Backbone>(registry, document, recipe.backbone, context);
  check_resolution(*backbone, document, recipe.model.resolution);
  context.inputs = backbone->output_spec();
  auto decoder = build_component<sdk::Decoder>(registry, document, recipe.decoder, context);
  context.decoder = decoder->spec();
  std::shared_ptr<sdk::SegHead> seg_head;
  if (recipe.seg_head) {
    seg_head = build_component<sdk::SegHead>(registry, document, *recipe.seg_head, context);
  }
  auto model = std::make_shared<Model>(std::move(backbone), std::move(decoder), std::move(seg_head));
  model->to(context.device);
  model->eval();
  return model;
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

std::vector<std::string> probe_model(Model& model, std::int64_t resolution) {
  std::vector<std::string> lines;
  const std::int64_t divisor = model.backbone().size_divisibility();
  if (divisor > 0 && resolution % divisor != 0) {
    throw sdk::Error("resolution " + std::to_string(resolution) + " is not a multiple of " +
                     std::to_string(divisor) + ", which the backbone requires; use " +
                     std::to_string(std::max<std::int64_t>(divisor, resolution / divisor * divisor)) +
                     ".");
  }
  torch::NoGradGuard no_grad;
  const auto parameters = model.parameters();
  const auto options =
      torch::TensorOptions().device(parameters.empty() ? torch::kCPU : parameters[0].device());
  const ModelOutputs out = model.forward(torch::zeros({1, 3, resolution, resolution}, options));
  const sdk::FeatureSpecs spec = model.backbone().output_spec();
  if (out.features.size() != spec.size()) {
    throw sdk::Error("the backbone returned " + std::to_string(out.features.size()) +
                     " feature maps but publishes " + std::to_string(spec.size()) + ".");
  }
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::vector<std::int64_t> expected = {1, spec[i].channels, resolution / spec[i].stride,
                                                resolution / spec[i].stride};
    if (out.features[i].sizes() != c10::IntArrayRef(expected)) {
      throw sdk::Error("backbone output '" + spec[i].name + "' has shape " +
                       shape_text(out.features[i]) + " but its spec (" +
                       std::to_string(spec[i].channels) + " channels, stride " +
                       std::to_string(spec[i].stride) + ") says " + shape_text(expected) + ".");
    }
    lines.push_back("backbone " + spec[i].name + ": " + shape_text(out.features[i]));
  }
  const auto& layers = out.detections.layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    lines.push_back("decoder layer " + std::to_string(i) + ": logits " +
                    shape_text(layers[i].logits) + ", boxes " + shape_text(layers[i].boxes));
  }
  if (out.detections.encoder.logits.defined()) {
    lines.push_back("proposals: logits " + shape_text(out.detections.encoder.logits) +
                    ", boxes " + shape_text(out.detections.encoder.boxes));
  }
  if (out.masks && !out.masks->layers.empty()) {
    lines.push_back("masks: " + shape_text(sdk::mask_logits(out.masks->layers.back())));
  }
  return lines;
}

#define RTSEG_BUILD_COMPONENT(T)                                                          \
  template std::shared_ptr<T> build_component(const Registry&, const RecipeDocument&, \
                                              const ComponentRef&, const sdk::BuildContext&);
RTSEG_BUILD_COMPONENT(sdk::Backbone)
RTSEG_BUILD_COMPONENT(sdk::Decoder)
RTSEG_BUILD_COMPONENT(sdk::SegHead)
RTSEG_BUILD_COMPONENT(sdk::Dataset)
RTSEG_BUILD_COMPONENT(sdk::Scheduler)
#undef RTSEG_BUILD_COMPONENT

}  // namespace rtseg::framework
