// Two-stage proposal selection of TransformerImpl (RF-DETR's Transformer.forward, two_stage part).
#include <algorithm>

#include <torch/nn/modules/normalization.h>

#include "box_delta.h"
#include "rtseg/sdk/autocast.h"
#include "transformer.h"

namespace rtseg::plugins::lwdetr {
namespace {

torch::Tensor gather_rows(const torch::Tensor& x, const torch::Tensor& indices) {
  return x.gather(1, indices.unsqueeze(-1).expand({-1, -1, x.size(-1)}));
}

}  // namespace

ProposalSelection TransformerImpl::select_proposals(const EncoderProposals& proposals,
                                                    std::int64_t groups,
                                                    std::int64_t num_queries) {
  const std::int64_t cells = proposals.memory.size(1);
  const std::int64_t k = std::min(num_queries, cells);
  std::vector<torch::Tensor> boxes, memory, logits;
  // Every group's projection reads the memory: one autocast cast, held once.
  const torch::Tensor memory_in = sdk::autocast_input(proposals.memory);
  for (std::int64_t g = 0; g < groups; ++g) {
    const auto index = static_cast<std::size_t>(g);
    const torch::Tensor projected = enc_output_norm_->ptr<torch::nn::LayerNormImpl>(index)->forward(
        enc_output_->ptr<torch::nn::LinearImpl>(index)->forward(memory_in));
    const torch::Tensor cell_logits =
        enc_out_class_embed_->ptr<torch::nn::LinearImpl>(index)->forward(projected);
    const torch::Tensor top = std::get<1>(std::get<0>(cell_logits.max(-1)).topk(k, 1));
    // Box head and class head act per cell, so running them on the kept cells only gives the
    // values RF-DETR gathers from its all-cell outputs.
    const torch::Tensor kept_memory = gather_rows(projected, top);
    const torch::Tensor delta = enc_out_bbox_embed_->ptr<MlpImpl>(index)->forward(kept_memory);
    boxes.push_back(apply_box_delta(gather_rows(proposals.boxes, top), delta, bbox_reparam_));
    memory.push_back(kept_memory);
    logits.push_back(gather_rows(cell_logits, top));
  }
  return {torch::cat(boxes, 1), torch::cat(memory, 1), torch::cat(logits, 1)};
}

}  // namespace rtseg::plugins::lwdetr
