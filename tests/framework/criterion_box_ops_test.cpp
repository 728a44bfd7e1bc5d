// Box conversions, IoU and generalised IoU against values worked out by hand.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/box_ops.h"

namespace rtseg::framework::criterion {
namespace {

void expect_values(const torch::Tensor& actual, const std::vector<float>& expected) {
  const torch::Tensor flat = actual.contiguous().view(-1);
  ASSERT_EQ(flat.numel(), static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(flat[static_cast<std::int64_t>(i)].item<float>(), expected[i], 1e-6) << "entry " << i;
  }
}

TEST(BoxOps, ConversionsBothWays) {
  const torch::Tensor cxcywh = torch::tensor({0.5f, 0.4f, 0.2f, 0.6f, 0.1f, 0.1f, 0.2f, 0.0f}).view({2, 4});
  const torch::Tensor xyxy = cxcywh_to_xyxy(cxcywh);
  expect_values(xyxy, {0.4f, 0.1f, 0.6f, 0.7f, 0.0f, 0.1f, 0.2f, 0.1f});
  expect_values(xyxy_to_cxcywh(xyxy), {0.5f, 0.4f, 0.2f, 0.6f, 0.1f, 0.1f, 0.2f, 0.0f});
}

TEST(BoxOps, NegativeSizesCountAsZero) {
  // RF-DETR's conversion clamps w and h at 0 (its reparametrised boxes are not squashed).
  const torch::Tensor xyxy = cxcywh_to_xyxy(torch::tensor({0.5f, 0.5f, -0.2f, 0.4f}));
  expect_values(xyxy, {0.5f, 0.3f, 0.5f, 0.7f});
}

TEST(BoxOps, IouAndGeneralizedIouByHand) {
  // a = [0,0,2,2] (area 4), b = [1,1,3,3] (area 4): intersection 1, union 7, hull 9.
  // c = [4,0,5,1] (area 1) is disjoint from a: union 5, hull [0,0,5,2] = 10.
  const torch::Tensor a = torch::tensor({0.f, 0.f, 2.f, 2.f}).view({1, 4});
  const torch::Tensor bc = torch::tensor({1.f, 1.f, 3.f, 3.f, 4.f, 0.f, 5.f, 1.f}).view({2, 4});
  const PairwiseIou iou = pairwise_box_iou(a, bc);
  expect_values(iou.iou, {1.f / 7, 0.f});
  expect_values(iou.union_area, {7.f, 5.f});
  expect_values(pairwise_generalized_box_iou(a, bc), {1.f / 7 - 2.f / 9, 0.f - 5.f / 10});
  expect_values(box_area(bc), {4.f, 1.f});
}

TEST(BoxOps, IdenticalBoxesHaveGiouOne) {
  const torch::Tensor box = torch::tensor({0.1f, 0.2f, 0.5f, 0.9f}).view({1, 4});
  expect_values(paired_generalized_box_iou(box, box), {1.f});
  expect_values(paired_box_iou(box, box), {1.f});
}

TEST(BoxOps, PairedFormsAreTheDiagonalOfThePairwiseOnes) {
  torch::manual_seed(3);
  const torch::Tensor a = cxcywh_to_xyxy(torch::rand({7, 4}) * 0.5 + 0.1);
  const torch::Tensor b = cxcywh_to_xyxy(torch::rand({7, 4}) * 0.5 + 0.1);
  EXPECT_TRUE(torch::equal(paired_box_iou(a, b), pairwise_box_iou(a, b).iou.diagonal()));
  EXPECT_TRUE(torch::equal(paired_generalized_box_iou(a, b), pairwise_generalized_box_iou(a, b).diagonal()));
}

TEST(BoxOps, PairwiseBroadcastsOverABatch) {
  torch::manual_seed(4);
  const torch::Tensor a = cxcywh_to_xyxy(torch::rand({3, 5, 4}) * 0.5 + 0.1);
  const torch::Tensor b = cxcywh_to_xyxy(torch::rand({3, 2, 4}) * 0.5 + 0.1);
  const torch::Tensor batched = pairwise_generalized_box_iou(a, b);
  ASSERT_EQ(batched.sizes(), (std::vector<std::int64_t>{3, 5, 2}));
  for (std::int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(batched[i], pairwise_generalized_box_iou(a[i], b[i])));
  }
}

}  // namespace
}  // namespace rtseg::framework::criterion
