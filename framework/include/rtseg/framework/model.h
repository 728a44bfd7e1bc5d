#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "rtseg/framework/recipe.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/backbone.h"
#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::framework {

class Registry;

/// What one forward pass returns.
struct ModelOutputs {
  std::vector<torch::Tensor> features;  ///< the backbone's maps
  sdk::DecoderOutputs detections;
  std::optional<sdk::MaskOutputs> masks;  ///< with a segmentation head
};

/// The inference result: final-layer predictions only.
struct Prediction {
  sdk::QueryPredictions detections;  ///< [B, num_queries, ...] of the last decoder layer
  std::optional<sdk::MaskEmbedding> masks;
};

/// Backbone -> decoder -> optional mask head, as one torch module.
///
/// Each component's parameters appear under its state_prefix() ("backbone.0.*",
/// "segmentation_head.*"; an empty prefix puts the component's sub-modules at the root), so the
/// shipped plugins' weights carry RF-DETR's names and its checkpoints load one to one.
class Model final : public torch::nn::Module {
 public:
  Model(std::shared_ptr<sdk::Backbone> backbone, std::shared_ptr<sdk::Decoder> decoder,
        std::shared_ptr<sdk::SegHead> seg_head);

  /// images: [B, 3, H, W] normalised; padding_mask: [B, H, W] bool, true = padding (undefined:
  /// no padding). In eval mode only inference work is done (one query group, see Decoder).
  ModelOutputs forward(const torch::Tensor& images, const torch::Tensor& padding_mask = {});

  /// The inference path: eval mode (one query group), final layer only, no proposal or
  /// auxiliary-layer masks. Switches the model to eval mode.
  Prediction predict(const torch::Tensor& images, const torch::Tensor& padding_mask = {});

  /// Also switches the components, some of which are not themselves in the module tree.
  void train(bool on = true) override;

  /// Stage 2 of the two-stage flow: forward() runs the backbone and decoder without autograd
  /// (their parameters must not be trained), so that only the segmentation head builds a graph.
  void set_detector_frozen(bool frozen) { detector_frozen_ = frozen; }
  bool detector_frozen() const { return detector_frozen_; }

  sdk::Backbone& backbone() { return *backbone_; }
  sdk::Decoder& decoder() { return *decoder_; }
  sdk::SegHead* seg_head() { return seg_head_.get(); }

 private:
  void attach(const std::string& prefix, const std::shared_ptr<torch::nn::Module>& component);
  std::vector<torch::Tensor> masks_for(const torch::Tensor& padding_mask,
                                       const std::vector<torch::Tensor>& features) const;

  std::shared_ptr<sdk::Backbone> backbone_;
  std::shared_ptr<sdk::Decoder> decoder_;
  std::shared_ptr<sdk::SegHead> seg_head_;
  bool detector_frozen_ = false;
};

/// Builds one component from its recipe section (the section's unread keys are errors).
template <class T>
std::shared_ptr<T> build_component(const Registry& registry, const RecipeDocument& document,
                                   const ComponentRef& ref, const sdk::BuildContext& context);

/// Builds the model a checked recipe names, wiring the specs: the decoder and head get the
/// backbone's FeatureSpecs, the head also the decoder's spec. In eval mode, on context.device.
/// Throws ConfigError when the backbone cannot take model.resolution (check_resolution).
std::shared_ptr<Model> build_model(const Registry& registry, const RecipeDocument& document,
                                   const CheckedRecipe& recipe, sdk::BuildContext context);

/// Throws ConfigError naming model.resolution (and where it was set) when `backbone` cannot take
/// images of that side (not a multiple of its size_divisibility), with the nearest sides it can.
void check_resolution(const sdk::Backbone& backbone, const RecipeDocument& document, std::int64_t resolution);

/// Builds the recipe's backbone alone (not the rest of the model) and runs check_resolution:
/// what `rtseg recipe check` does to refuse a resolution training could not use.
void check_backbone_resolution(const Registry& registry, const RecipeDocument& document, const CheckedRecipe& recipe,
                               sdk::BuildContext context);

/// Runs the model once on a blank [1, 3, R, R] image in eval mode and describes every output
/// ("backbone p4: [1, 256, 24, 24]", ...). Throws sdk::Error when a backbone's outputs disagree
/// with its published FeatureSpecs, or R is not a multiple of its size divisibility.
std::vector<std::string> probe_model(Model& model, std::int64_t resolution);

/// Nearest-neighbour resize of a [B, H, W] padding mask to each feature map's size.
std::vector<torch::Tensor> feature_masks(const torch::Tensor& padding_mask,
                                         const std::vector<torch::Tensor>& features);

}  // namespace rtseg::framework
