#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// Mask logits in factored form: logits[b, q, y, x] = <pixels[b, :, y, x], queries[b, q, :]> + bias.
/// Training code samples points from `pixels` instead of materialising [B, Q, h, w].
struct MaskEmbedding {
  torch::Tensor pixels;   ///< [B, D, h, w]
  torch::Tensor queries;  ///< [B, Q, D]
  torch::Tensor bias;     ///< [1] (or undefined)
};

/// Materialises [B, Q, h, w] mask logits.
RTSEG_SDK_API torch::Tensor mask_logits(const MaskEmbedding& embedding);

struct MaskOutputs {
  std::vector<MaskEmbedding> layers;  ///< one per decoder layer
  MaskEmbedding encoder;              ///< for the two-stage proposals (may be empty)
};

/// Predicts instance masks for the decoder's queries.
class RTSEG_SDK_API SegHead : public torch::nn::Module {
 public:
  ~SegHead() override;

  /// images: the normalised input batch [B, 3, H, W] (for heads that look at pixels);
  /// features: the backbone's maps; decoded: the decoder's outputs for the same batch.
  virtual MaskOutputs forward(const torch::Tensor& images,
                              const std::vector<torch::Tensor>& features,
                              const DecoderOutputs& decoded) = 0;

  /// (optional) Where this module's parameters live in the model's weights, e.g.
  /// "segmentation_head". Default: "seg_head".
  virtual std::string state_prefix() const;

  /// (optional) Inference: the masks of the final decoder layer only. The default calls forward()
  /// and keeps layers.back(); heads override it to skip auxiliary-layer and proposal work.
  virtual MaskEmbedding predict(const torch::Tensor& images,
                                const std::vector<torch::Tensor>& features,
                                const DecoderOutputs& decoded);
};

}  // namespace rtseg::sdk
