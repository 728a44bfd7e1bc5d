// Key functions and defaults of the torch-based component interfaces (the only SDK source that
// includes LibTorch operators).
#include <ATen/ops/einsum.h>

#include "rtseg/sdk/components/backbone.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::sdk {

Backbone::~Backbone() = default;
std::int64_t Backbone::size_divisibility() const { return 1; }
bool Backbone::set_gradient_checkpointing(bool) { return false; }
std::map<std::string, ParameterHint> Backbone::parameter_hints() const { return {}; }
std::string Backbone::state_prefix() const { return "backbone"; }

Decoder::~Decoder() = default;
std::string Decoder::state_prefix() const { return "decoder"; }
std::int64_t Decoder::training_only_parameter_count() const { return 0; }
std::map<std::string, ParameterHint> Decoder::parameter_hints() const { return {}; }

SegHead::~SegHead() = default;
std::string SegHead::state_prefix() const { return "seg_head"; }
MaskEmbedding SegHead::predict(const torch::Tensor& images, const std::vector<torch::Tensor>& features,
                               const DecoderOutputs& decoded) {
  return forward(images, features, decoded).layers.back();
}
Dataset::~Dataset() = default;
std::vector<DataProblem> Dataset::problems(std::string_view) const { return {}; }

torch::Tensor mask_logits(const MaskEmbedding& embedding) {
  torch::Tensor logits = at::einsum("bdhw,bqd->bqhw", {embedding.pixels, embedding.queries});
  if (embedding.bias.defined()) logits = logits + embedding.bias;
  return logits;
}

}  // namespace rtseg::sdk
