// A complete backbone plugin: a small CNN with feature maps at strides 8 and 16.
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/normalization.h>

#include "rtseg/sdk/components/backbone.h"
#include "rtseg/sdk/plugin.h"

namespace my {

struct SmallCnnOptions {
  std::int64_t width = 64;  // channels of the stride-8 map; the stride-16 map has twice as many
};

SmallCnnOptions small_cnn_options_from(rtseg::sdk::ConfigReader& reader) {
  SmallCnnOptions options;
  options.width = reader.get("width", options.width, "channels at stride 8 (x2 at stride 16)");
  reader.check(options.width > 0, "width", "must be positive.");
  return options;
}

// conv(stride) -> GroupNorm -> GELU
torch::nn::Sequential down(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, stride).stride(stride)),
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, out)), torch::nn::GELU());
}

class SmallCnn final : public rtseg::sdk::Backbone {
 public:
  explicit SmallCnn(SmallCnnOptions options) : width_(options.width) {
    stem_ = register_module("stem", down(3, width_ / 2, 4));
    stage8_ = register_module("stage8", down(width_ / 2, width_, 2));
    stage16_ = register_module("stage16", down(width_, 2 * width_, 2));
  }

  rtseg::sdk::FeatureSpecs output_spec() const override {
    return {{"s8", width_, 8}, {"s16", 2 * width_, 16}};
  }

  std::vector<torch::Tensor> forward(const torch::Tensor& images) override {
    torch::Tensor s8 = stage8_->forward(stem_->forward(images));
    torch::Tensor s16 = stage16_->forward(s8);
    return {s8, s16};
  }

  std::int64_t size_divisibility() const override { return 16; }

 private:
  std::int64_t width_;
  torch::nn::Sequential stem_{nullptr}, stage8_{nullptr}, stage16_{nullptr};
};

std::unique_ptr<SmallCnn> make_small_cnn(SmallCnnOptions options,
                                         const rtseg::sdk::BuildContext&) {
  return std::make_unique<SmallCnn>(options);
}

void register_components(rtseg::sdk::Registrar& registrar) {
  registrar.add("small_cnn", rtseg::sdk::make_factory<rtseg::sdk::Backbone>(
                                 "a small CNN with maps at strides 8 and 16",
                                 &small_cnn_options_from, &make_small_cnn));
}

}  // namespace my

RTSEG_PLUGIN("my_backbone", "1.0.0", "Example out-of-tree backbone", my::register_components)
