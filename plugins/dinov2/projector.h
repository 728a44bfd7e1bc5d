#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace rtseg::plugins::dinov2 {

// RF-DETR's MultiScaleProjector (projector.py) with its layer_norm = true choices: every "bn" is
// a channel LayerNorm (eps 1e-6). Parameter names follow RF-DETR's module tree.

/// LayerNorm over the channels of an NCHW map (weight, bias).
class ChannelLayerNorm final : public torch::nn::Module {
 public:
  explicit ChannelLayerNorm(std::int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::int64_t channels_;
  double eps_;
  torch::Tensor weight_, bias_;
};

enum class Activation { kRelu, kSilu };

/// conv (no bias, "same" padding) -> bn (channel LayerNorm) -> activation.
class ConvX final : public torch::nn::Module {
 public:
  ConvX(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
        Activation activation);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  std::shared_ptr<ChannelLayerNorm> bn_;
  Activation activation_;
};

/// Two 3x3 SiLU ConvX. The projector builds them without the residual (shortcut = false).
class Bottleneck final : public torch::nn::Module {
 public:
  explicit Bottleneck(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x) { return cv2_->forward(cv1_->forward(x)); }

 private:
  std::shared_ptr<ConvX> cv1_, cv2_;
};

/// CSP block: cv1 (1x1) splits into two halves, `blocks` bottlenecks chain on the second half,
/// all pieces are concatenated and fused by cv2 (1x1).
class C2f final : public torch::nn::Module {
 public:
  C2f(std::int64_t in, std::int64_t out, std::int64_t blocks);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::int64_t hidden_;
  std::shared_ptr<ConvX> cv1_, cv2_;
  std::vector<std::shared_ptr<Bottleneck>> blocks_;
};

/// Per level: resample every tapped map (P3: 2x2 transposed conv to C/2 channels; P4: as is;
/// P5: 3x3 stride-2 ReLU ConvX), concatenate, C2f to `out` channels, channel LayerNorm.
/// P6 is RF-DETR's extra level: max_pool2d(kernel 1, stride 2) of the last built level. (RF-DETR
/// 1.4.1 also builds a C2f stage for P6 that it cannot run; that stage is left out here.)
class MultiScaleProjector final : public torch::nn::Module {
 public:
  MultiScaleProjector(std::vector<std::int64_t> in_channels, std::int64_t out_channels,
                      const std::vector<std::string>& scales, std::int64_t blocks);

  /// One map per tapped stage -> one map per level, in `scales` order.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& maps);

 private:
  enum class Resample { kUp2, kSame, kDown2 };
  struct Level {
    Resample resample;
    std::vector<torch::nn::ConvTranspose2d> up;  // kUp2, one per input map
    std::vector<std::shared_ptr<ConvX>> down;    // kDown2, one per input map
    std::shared_ptr<C2f> fuse;
    std::shared_ptr<ChannelLayerNorm> norm;
  };

  std::vector<Level> levels_;
  bool extra_pool_ = false;
};

}  // namespace rtseg::plugins::dinov2
