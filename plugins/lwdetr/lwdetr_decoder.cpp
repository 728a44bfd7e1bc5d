#include "lwdetr_decoder.h"

#include <cmath>

#include <torch/nn/init.h>

#include "box_delta.h"
#include "levels.h"
#include "proposals.h"
#include "rtseg/sdk/autocast.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::lwdetr {

LwDetrDecoder::LwDetrDecoder(const LwDetrOptions& options, const LwDetrShape& shape)
    : options_(options), shape_(shape) {
  const std::int64_t d = shape.hidden_dim;
  DecoderLayerOptions layer;
  layer.d_model = d;
  layer.sa_nheads = options.sa_nheads;
  layer.ca_nheads = options.ca_nheads;
  layer.dim_feedforward = options.dim_feedforward;
  layer.n_levels = shape.num_levels;
  layer.n_points = options.dec_n_points;
  layer.dropout = options.dropout;
  layer.recompute = options.recompute;
  layer.recompute_whole_layer = options.recompute_scope == "layer";
  const std::int64_t query_rows = shape.num_queries * options.group_detr;

  // Built in RF-DETR's order: the transformer (whose reset covers only its own parameters),
  // then the heads and query tables, then the proposal heads copied from the fresh heads.
  transformer_ = register_module(
      "transformer",
      Transformer(layer, options.dec_layers, options.decoder_norm == "LN",
                  options.lite_refpoint_refine, options.bbox_reparam, options.two_stage,
                  options.group_detr));
  class_embed_ = register_module("class_embed", torch::nn::Linear(d, shape.num_logits));
  bbox_embed_ = register_module("bbox_embed", Mlp(d, d, 4, 3));
  refpoint_embed_ = register_module("refpoint_embed", torch::nn::Embedding(query_rows, 4));
  query_feat_ = register_module("query_feat", torch::nn::Embedding(query_rows, d));
  {
    torch::NoGradGuard no_grad;
    constexpr double kPriorProbability = 0.01;  // focal-loss prior for the class bias
    class_embed_->bias.fill_(-std::log((1.0 - kPriorProbability) / kPriorProbability));
    torch::nn::init::zeros_(bbox_embed_->layer(-1)->weight);
    torch::nn::init::zeros_(bbox_embed_->layer(-1)->bias);
    torch::nn::init::zeros_(refpoint_embed_->weight);
  }
  bbox_embed_->set_recompute(options.recompute);
  if (!options.lite_refpoint_refine) transformer_->decoder()->share_bbox_embed(bbox_embed_);
  transformer_->attach_encoder_heads(class_embed_, bbox_embed_);
}

sdk::DecoderSpec LwDetrDecoder::spec() const {
  return sdk::DecoderSpec{shape_.hidden_dim, options_.dec_layers};
}

sdk::DecoderOutputs LwDetrDecoder::forward(const std::vector<torch::Tensor>& features,
                                           const std::vector<torch::Tensor>& masks) {
  const FlatLevels flat = flatten_levels(features, masks);
  const std::int64_t batch = flat.memory.size(0);
  const std::int64_t groups = is_training() ? options_.group_detr : 1;
  const std::int64_t query_count = groups * shape_.num_queries;
  const bool reparam = options_.bbox_reparam;

  // Group g owns rows [g * Q, (g + 1) * Q) of the query tables; eval uses group 0 only.
  const torch::Tensor tgt =
      query_feat_->weight.narrow(0, 0, query_count).unsqueeze(0).expand({batch, -1, -1});
  torch::Tensor refpoints =
      refpoint_embed_->weight.narrow(0, 0, query_count).unsqueeze(0).expand({batch, -1, -1});

  ProposalSelection selected;
  if (options_.two_stage) {
    const EncoderProposals proposals =
        encoder_output_proposals(flat.memory, flat.padding, flat.shapes, /*unsigmoid=*/!reparam);
    selected = transformer_->select_proposals(proposals, groups, shape_.num_queries);
    // The first groups * k rows become offsets from the (detached) proposals; when k < Q the
    // remaining rows stay as they are, exactly as RF-DETR composes them.
    const std::int64_t composed_rows = selected.boxes.size(1);
    const torch::Tensor composed = apply_box_delta(
        selected.boxes.detach(), refpoints.narrow(1, 0, composed_rows), reparam);
    refpoints = torch::cat(
        {composed, refpoints.narrow(1, composed_rows, query_count - composed_rows)}, 1);
  }

  const DecoderMemory memory{flat.memory, flat.padding, flat.shapes};
  const DecoderStackOutput stack =
      transformer_->decoder()->forward(tgt, refpoints, memory, flat.valid_ratios, groups);

  // Heads on all layers at once: hs [L, B, N, d].
  const torch::Tensor hs = torch::stack(stack.hidden, 0);
  const torch::Tensor references = options_.lite_refpoint_refine
                                       ? stack.references.front().unsqueeze(0)
                                       : torch::stack(stack.references, 0);
  // Both heads read hs: one autocast cast, held once.
  const torch::Tensor heads_in = sdk::autocast_input(hs);
  const torch::Tensor logits = class_embed_->forward(heads_in);
  torch::Tensor boxes = apply_box_delta(references, bbox_embed_->forward(heads_in), reparam);
  if (!reparam) boxes = boxes.sigmoid();

  sdk::DecoderOutputs out;
  out.num_groups = groups;
  for (std::int64_t l = 0; l < hs.size(0); ++l) {
    out.layers.push_back(sdk::QueryPredictions{logits[l], boxes[l], hs[l]});
  }
  if (options_.two_stage) {
    out.encoder = sdk::QueryPredictions{selected.logits,
                                        reparam ? selected.boxes : selected.boxes.sigmoid(),
                                        selected.memory};
  }
  return out;
}

std::vector<LwDetrProblem> lwdetr_problems(const LwDetrOptions& options,
                                           const sdk::BuildContext& context) {
  std::vector<LwDetrProblem> problems;
  const std::int64_t d = context.model.hidden_dim;
  const std::string d_text = "model.hidden_dim = " + std::to_string(d);
  if (d <= 0) problems.push_back({"", d_text + " must be positive."});
  if (context.model.num_queries <= 0) {
    problems.push_back({"", "model.num_queries = " + std::to_string(context.model.num_queries) +
                                " must be positive."});
  }
  if (context.model.num_classes <= 0) {
    problems.push_back({"", "model.num_classes = " + std::to_string(context.model.num_classes) +
                                " must be positive."});
  }
  if (d > 0 && options.sa_nheads > 0 && d % options.sa_nheads != 0) {
    problems.push_back({"sa_nheads", "must divide " + d_text + " (got " +
                                         std::to_string(options.sa_nheads) + ")."});
  }
  if (d > 0 && options.ca_nheads > 0 && d % options.ca_nheads != 0) {
    problems.push_back({"ca_nheads", "must divide " + d_text + " (got " +
                                         std::to_string(options.ca_nheads) + ")."});
  }
  if (d > 0 && d % 2 != 0) {
    problems.push_back({"", d_text + " must be even (the sine embedding uses d/2 features)."});
  }
  if (context.inputs.empty()) {
    problems.push_back({"", "the lwdetr decoder needs at least one input feature level."});
  }
  for (const sdk::FeatureSpec& level : context.inputs) {
    if (level.channels != d) {
      problems.push_back({"", "input level '" + level.name + "' has " +
                                  std::to_string(level.channels) + " channels but the lwdetr "
                                  "decoder reads " + d_text + " channels per level; make the "
                                  "backbone (projector) output hidden_dim channels."});
    }
  }
  return problems;
}

std::unique_ptr<LwDetrDecoder> make_lwdetr(LwDetrOptions options,
                                           const sdk::BuildContext& context) {
  const std::vector<LwDetrProblem> problems = lwdetr_problems(options, context);
  if (!problems.empty()) {
    const LwDetrProblem& first = problems.front();
    throw sdk::ConfigError("decoder 'lwdetr': " +
                           (first.key.empty() ? first.message : first.key + " " + first.message));
  }
  LwDetrShape shape;
  shape.hidden_dim = context.model.hidden_dim;
  shape.num_queries = context.model.num_queries;
  shape.num_logits = context.model.num_classes + 1;
  shape.num_levels = static_cast<std::int64_t>(context.inputs.size());
  return std::make_unique<LwDetrDecoder>(options, shape);
}

std::map<std::string, sdk::ParameterHint> LwDetrDecoder::parameter_hints() const {
  std::map<std::string, sdk::ParameterHint> hints;
  for (const auto& item : named_parameters()) {
    if (item.key().rfind("transformer.decoder.", 0) != 0) continue;
    sdk::ParameterHint hint;
    hint.component_depth = 1;  // RF-DETR: lr x lr_component_decay for the decoder layers
    hints[item.key()] = hint;
  }
  return hints;
}

std::int64_t LwDetrDecoder::training_only_parameter_count() const {
  std::int64_t count = 0;
  for (const auto& item : named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& parameter = item.value();
    if (name == "refpoint_embed.weight" || name == "query_feat.weight") {
      count += (parameter.size(0) - shape_.num_queries) * parameter.size(1);
      continue;
    }
    // transformer.enc_*.G.<...>: the heads of group G; inference uses group 0 only.
    for (const char* head : {"transformer.enc_output.", "transformer.enc_output_norm.",
                             "transformer.enc_out_class_embed.", "transformer.enc_out_bbox_embed."}) {
      const std::string prefix(head);
      if (name.compare(0, prefix.size(), prefix) == 0 && name.compare(prefix.size(), 2, "0.") != 0) {
        count += parameter.numel();
      }
    }
  }
  return count;
}

}  // namespace rtseg::plugins::lwdetr
