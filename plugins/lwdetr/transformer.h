#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "mlp.h"
#include "proposals.h"
#include "transformer_decoder.h"

namespace rtseg::plugins::lwdetr {

/// The top-k encoder proposals of every query group, groups side by side.
struct ProposalSelection {
  torch::Tensor boxes;    ///< [B, G * k, 4], not detached (the encoder output's boxes)
  torch::Tensor memory;   ///< [B, G * k, d] normed memory at the selected cells
  torch::Tensor logits;   ///< [B, G * k, C] that group's class head at the selected cells
};

/// RF-DETR's encoder-free Transformer (module `transformer`): the decoder stack plus, with two
/// stages, one proposal head per query group (enc_output, enc_output_norm, enc_out_bbox_embed,
/// enc_out_class_embed).
class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(const DecoderLayerOptions& layer_options, std::int64_t num_layers,
                  bool layer_norm, bool lite_refpoint_refine, bool bbox_reparam, bool two_stage,
                  std::int64_t group_detr);

  /// Xavier-uniform on every parameter with more than one dimension, then the deformable
  /// attention's own reset (RF-DETR's Transformer._reset_parameters).
  void reset_parameters();

  /// Adds per-group copies of the detection heads as the proposal heads (same initial values,
  /// separate parameters), as RF-DETR does after building the transformer.
  void attach_encoder_heads(const torch::nn::Linear& class_embed, const Mlp& bbox_embed);

  /// For each of the first `groups` groups: project and norm the memory, score every cell with
  /// that group's class head, keep the top min(num_queries, S) cells by their best logit and
  /// predict their boxes relative to the cells' proposals.
  ProposalSelection select_proposals(const EncoderProposals& proposals, std::int64_t groups,
                                     std::int64_t num_queries);

  TransformerDecoder& decoder() { return decoder_; }

 private:
  std::int64_t group_detr_;
  bool bbox_reparam_, two_stage_;
  TransformerDecoder decoder_{nullptr};
  torch::nn::ModuleList enc_output_{nullptr}, enc_output_norm_{nullptr};
  torch::nn::ModuleList enc_out_bbox_embed_{nullptr}, enc_out_class_embed_{nullptr};
};
TORCH_MODULE(Transformer);

}  // namespace rtseg::plugins::lwdetr
