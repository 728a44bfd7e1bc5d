#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::framework::criterion {

/// One set of predictions that gets every loss and its own matching: the last decoder layer,
/// an auxiliary layer or the two-stage proposals.
struct SupervisedOutput {
  std::string suffix;         ///< appended to the loss names: "", "_0" .. "_{L-2}", "_enc"
  torch::Tensor logits;       ///< [B, Q, C]
  torch::Tensor boxes;        ///< [B, Q, 4] (cx, cy, w, h)
  sdk::MaskEmbedding masks;   ///< factored mask logits; pixels undefined = no masks

  bool has_masks() const { return masks.pixels.defined(); }
};

/// The outputs RF-DETR supervises, in its loss-dict order: the last layer, then (with aux_loss)
/// every earlier layer (suffix _i) and the proposals (_enc, when the decoder has them). Masks
/// come from `masks` (nullptr: detection only).
///
/// Note: with aux_loss = false RF-DETR still computes the _enc losses but leaves them out of the
/// weighted total (they only appear in its log); they are not computed here.
std::vector<SupervisedOutput> supervised_outputs(const sdk::DecoderOutputs& decoded,
                                                 const sdk::MaskOutputs* masks, bool aux_loss);

/// The matching of one image: queries[k] (index into all Q queries, group offset included) is
/// paired with targets[k] (index into the image's objects). Ordered by group, then by query, as
/// RF-DETR's matcher returns them.
struct ImageMatch {
  std::vector<std::int64_t> queries;
  std::vector<std::int64_t> targets;
};

/// One ImageMatch per image.
using OutputMatches = std::vector<ImageMatch>;

}  // namespace rtseg::framework::criterion
