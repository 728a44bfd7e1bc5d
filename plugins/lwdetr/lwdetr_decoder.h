#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "mlp.h"
#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/decoder.h"
#include "transformer.h"

namespace rtseg::plugins::lwdetr {

/// Widths and counts that come from the model rather than the decoder's options.
struct LwDetrShape {
  std::int64_t hidden_dim = 256;   // d_model; every input level must have this many channels
  std::int64_t num_queries = 300;  // queries per group
  std::int64_t num_logits = 91;    // class logits per query (RF-DETR: num_classes + 1)
  std::int64_t num_levels = 1;     // feature levels the cross-attention reads
};

/// RF-DETR 1.4.1's LW-DETR decoder and detection heads: optional two-stage proposals, group
/// DETR queries, box reparameterisation, lite reference refinement and multi-scale deformable
/// cross-attention. Its modules sit at the root of the model with RF-DETR's names
/// (transformer.*, class_embed, bbox_embed, refpoint_embed, query_feat), so RF-DETR state dicts
/// load unchanged.
class LwDetrDecoder final : public sdk::Decoder {
 public:
  LwDetrDecoder(const LwDetrOptions& options, const LwDetrShape& shape);

  sdk::DecoderOutputs forward(const std::vector<torch::Tensor>& features,
                              const std::vector<torch::Tensor>& masks) override;
  sdk::DecoderSpec spec() const override;
  std::string state_prefix() const override { return ""; }
  /// The proposal heads of groups 1.. and the query rows past the first group.
  std::int64_t training_only_parameter_count() const override;
  /// transformer.decoder.* (layers, norm, reference-point head) at component depth 1.
  std::map<std::string, sdk::ParameterHint> parameter_hints() const override;

  const LwDetrOptions& options() const { return options_; }
  const LwDetrShape& shape() const { return shape_; }

 private:
  LwDetrOptions options_;
  LwDetrShape shape_;
  Transformer transformer_{nullptr};
  torch::nn::Linear class_embed_{nullptr};
  Mlp bbox_embed_{nullptr};
  torch::nn::Embedding refpoint_embed_{nullptr}, query_feat_{nullptr};
};

/// Problems of `options` for this model ("" when none), for a factory to report.
struct LwDetrProblem {
  std::string key;      ///< the option at fault, or "" when the model's inputs are
  std::string message;
};
std::vector<LwDetrProblem> lwdetr_problems(const LwDetrOptions& options,
                                           const sdk::BuildContext& context);

/// Builds the decoder for `context` (hidden_dim, num_queries, num_classes + 1 logits, one level
/// per input). Throws sdk::ConfigError on the first of lwdetr_problems().
std::unique_ptr<LwDetrDecoder> make_lwdetr(LwDetrOptions options, const sdk::BuildContext& context);

}  // namespace rtseg::plugins::lwdetr
