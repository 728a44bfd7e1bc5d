#include "transformer.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/normalization.h>

namespace rtseg::plugins::lwdetr {
namespace {

/// Copies every parameter value of `from` into the same-named parameter of `to`.
void copy_parameters(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.named_parameters();
  for (auto& target : to.named_parameters()) target.value().copy_(source[target.key()]);
}

}  // namespace

TransformerImpl::TransformerImpl(const DecoderLayerOptions& layer_options, std::int64_t num_layers,
                                 bool layer_norm, bool lite_refpoint_refine, bool bbox_reparam,
                                 bool two_stage, std::int64_t group_detr)
    : group_detr_(group_detr), bbox_reparam_(bbox_reparam), two_stage_(two_stage) {
  decoder_ = register_module("decoder", TransformerDecoder(layer_options, num_layers, layer_norm,
                                                           lite_refpoint_refine, bbox_reparam));
  // RF-DETR deep-copies one layer, so the layers start equal (the reset below redraws every
  // matrix, but 1-d parameters such as the FFN biases stay shared values).
  torch::nn::ModuleList layers = decoder_->layers();
  for (std::size_t i = 1; i < layers->size(); ++i) copy_parameters(*layers[0], *layers[i]);

  if (two_stage) {
    const std::int64_t d = layer_options.d_model;
    enc_output_ = register_module("enc_output", torch::nn::ModuleList());
    enc_output_norm_ = register_module("enc_output_norm", torch::nn::ModuleList());
    for (std::int64_t g = 0; g < group_detr; ++g) {
      enc_output_->push_back(torch::nn::Linear(d, d));
      enc_output_norm_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    }
  }
  reset_parameters();
}

void TransformerImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& parameter : parameters()) {
    if (parameter.dim() > 1) torch::nn::init::xavier_uniform_(parameter);
  }
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* attention = module->as<MsDeformAttnImpl>()) attention->reset_parameters();
  }
}

void TransformerImpl::attach_encoder_heads(const torch::nn::Linear& class_embed,
                                           const Mlp& bbox_embed) {
  if (!two_stage_) return;
  enc_out_bbox_embed_ = register_module("enc_out_bbox_embed", torch::nn::ModuleList());
  enc_out_class_embed_ = register_module("enc_out_class_embed", torch::nn::ModuleList());
  const std::int64_t d = class_embed->options.in_features();
  const std::int64_t classes = class_embed->options.out_features();
  for (std::int64_t g = 0; g < group_detr_; ++g) {
    Mlp box_head(d, d, 4, bbox_embed->num_layers());
    copy_parameters(*bbox_embed, *box_head);
    enc_out_bbox_embed_->push_back(box_head);
    torch::nn::Linear class_head(d, classes);
    copy_parameters(*class_embed, *class_head);
    enc_out_class_embed_->push_back(class_head);
  }
}

}  // namespace rtseg::plugins::lwdetr
