#include "options.h"

namespace rtseg::plugins::lwdetr {

LwDetrOptions lwdetr_options_from(sdk::ConfigReader& reader) {
  LwDetrOptions o;
  o.dec_layers = reader.get("dec_layers", o.dec_layers, "number of decoder layers");
  o.sa_nheads = reader.get("sa_nheads", o.sa_nheads, "self-attention heads per decoder layer");
  o.ca_nheads = reader.get("ca_nheads", o.ca_nheads,
                           "multi-scale deformable cross-attention heads per decoder layer");
  o.dec_n_points = reader.get("dec_n_points", o.dec_n_points,
                              "sampling points per cross-attention head and feature level");
  o.dim_feedforward = reader.get("dim_feedforward", o.dim_feedforward,
                                 "hidden width of the feed-forward block of each decoder layer");
  o.group_detr = reader.get("group_detr", o.group_detr,
                            "query groups trained side by side (group DETR); inference uses one");
  o.two_stage = reader.get("two_stage", o.two_stage,
                           "initialise reference boxes from the top-k proposals of the features");
  o.bbox_reparam = reader.get("bbox_reparam", o.bbox_reparam,
                              "predict boxes relative to the reference box size (no sigmoid)");
  o.lite_refpoint_refine = reader.get(
      "lite_refpoint_refine", o.lite_refpoint_refine,
      "keep the initial reference boxes for every layer (false: refine them layer by layer)");
  o.dropout = reader.get("dropout", o.dropout, "dropout probability inside the decoder layers");
  o.recompute = sdk::recompute_policy_from(
      reader, "the decoder's activations (which: recompute_scope; never with dropout)");
  o.recompute_scope = reader.choice(
      "recompute_scope", o.recompute_scope, {"ffn", "layer"},
      "what `recompute` rebuilds: \"layer\", whole layers (every query group's [B, 13 x Q, d] activations are a "
      "step's largest; only each layer's inputs are held), or \"ffn\", each layer's feed-forward block only "
      "(more memory, fewer kernels run twice)");
  o.decoder_norm = reader.choice("decoder_norm", o.decoder_norm, {"LN", "Identity"},
                                 "norm applied to each decoder layer's output");

  reader.check(o.dec_layers >= 1, "dec_layers", "must be at least 1.");
  reader.check(o.sa_nheads >= 1, "sa_nheads", "must be at least 1.");
  reader.check(o.ca_nheads >= 1, "ca_nheads", "must be at least 1.");
  reader.check(o.dec_n_points >= 1, "dec_n_points", "must be at least 1.");
  reader.check(o.dim_feedforward >= 1, "dim_feedforward", "must be at least 1.");
  reader.check(o.group_detr >= 1, "group_detr", "must be at least 1.");
  reader.check(o.dropout >= 0.0 && o.dropout < 1.0, "dropout", "must be in [0, 1).");
  return o;
}

}  // namespace rtseg::plugins::lwdetr
