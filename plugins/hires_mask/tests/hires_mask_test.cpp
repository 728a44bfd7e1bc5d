#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "hires_mask_head.h"
#include "rfdetr_mask_head.h"

namespace rtseg::plugins::hires_mask {
namespace {

constexpr std::int64_t kDim = 16;

sdk::BuildContext context() {
  sdk::BuildContext c;
  c.inputs = {sdk::FeatureSpec{"p4", kDim, 16}};
  c.decoder = sdk::DecoderSpec{kDim, 2};
  return c;
}

sdk::DecoderOutputs decoded() {
  sdk::DecoderOutputs out;
  for (int i = 0; i < 2; ++i) out.layers.push_back({torch::Tensor(), torch::Tensor(), torch::randn({1, 4, kDim})});
  out.encoder.features = torch::randn({1, 4, kDim});
  return out;
}

TEST(HiresMaskHead, MasksAtTheDetailStride) {
  for (std::int64_t stride : {4, 8}) {
    HiresMaskHead head(HiresMaskOptions{stride, 8}, context());
    const auto out = head.forward(torch::randn({1, 3, 64, 64}), {torch::randn({1, kDim, 4, 4})}, decoded());
    EXPECT_EQ(sdk::mask_logits(out.layers.back()).sizes(),
              (std::vector<std::int64_t>{1, 4, 64 / stride, 64 / stride}));
  }
}

// With its zero-initialised detail projection the head starts out as RF-DETR's head with the same
// weights; once the projection is non-zero the image changes the masks.
TEST(HiresMaskHead, StartsAsRfDetrsHeadThenUsesTheImage) {
  torch::manual_seed(3);
  HiresMaskHead hires(HiresMaskOptions{4, 8}, context());
  rfdetr_mask::RfdetrMaskHead plain(rfdetr_mask::RfdetrMaskOptions{4}, context());
  {
    torch::NoGradGuard no_grad;
    auto target = hires.named_parameters();
    for (const auto& parameter : plain.named_parameters()) target[parameter.key()].copy_(parameter.value());
  }
  const torch::Tensor images = torch::randn({1, 3, 64, 64});
  const torch::Tensor features = torch::randn({1, kDim, 4, 4});
  const auto queries = decoded();
  const auto a = sdk::mask_logits(hires.forward(images, {features}, queries).layers.back());
  const auto b = sdk::mask_logits(plain.forward(images, {features}, queries).layers.back());
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6));

  {
    torch::NoGradGuard no_grad;
    hires.named_parameters()["detail_proj.weight"].normal_(0, 0.1);
  }
  const auto c = sdk::mask_logits(hires.forward(images, {features}, queries).layers.back());
  EXPECT_FALSE(torch::allclose(a, c, 1e-3, 1e-4));
}

TEST(HiresMaskHead, DetailPathLearnsFromTheStart) {
  HiresMaskHead head(HiresMaskOptions{8, 8}, context());
  const auto out = head.forward(torch::randn({1, 3, 32, 32}), {torch::randn({1, kDim, 2, 2})}, decoded());
  sdk::mask_logits(out.layers.back()).pow(2).sum().backward();
  const auto grads = head.named_parameters();
  EXPECT_GT(grads["detail_proj.weight"].grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace rtseg::plugins::hires_mask
