// Classification and box losses: hand values, and dense [B, Q, C] references written the way
// RF-DETR's SetCriterion writes them (values and gradients).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/box_ops.h"
#include "rtseg/framework/criterion/losses.h"

namespace rtseg::framework::criterion {
namespace {

const double kLn2 = std::log(2.0);

// One image, one query, two classes; the query matches object 0 (class 0) with the same box.
struct OneQuery {
  torch::Tensor logits = torch::zeros({1, 1, 2}, torch::requires_grad());
  torch::Tensor boxes = torch::tensor({0.5f, 0.5f, 0.2f, 0.2f}).view({1, 1, 4});
  TargetBatch targets;
  MatchedPairs pairs;
  OneQuery() {
    Targets t;
    t.labels = torch::tensor({0}, torch::kLong);
    t.boxes = torch::tensor({0.5f, 0.5f, 0.2f, 0.2f}).view({1, 4});
    targets = make_target_batch({t}, torch::kCPU);
    pairs = matched_pairs({{ImageMatch{{0}, {0}}}}, targets, torch::kCPU)[0];
  }
};

TEST(ClassLoss, HandValuesAtLogitZero) {
  // p = 0.5 everywhere, IoU 1. Unmatched entry: p^2 (-log(1-p)) = ln2 / 4 in IA-BCE,
  // times 1 - alpha in focal / varifocal.
  OneQuery q;
  // IA-BCE: t = 0.5^0.25, positive = (1 - t) * 0 - log(0.5) * 1 = ln2.
  EXPECT_NEAR(classification_loss(ClassLoss::kIaBce, q.logits, q.boxes, q.pairs, q.targets, 0.25, 1.0).item<double>(),
              kLn2 + 0.25 * kLn2, 1e-6);
  // Focal: positive alpha (1-p)^2 ln2 = ln2 / 16, negative 0.75 / 4 ln2.
  EXPECT_NEAR(classification_loss(ClassLoss::kFocal, q.logits, q.boxes, q.pairs, q.targets, 0.25, 1.0).item<double>(),
              kLn2 / 16 + 0.1875 * kLn2, 1e-6);
  // Varifocal: positive IoU * BCE(0, 1) = ln2.
  EXPECT_NEAR(classification_loss(ClassLoss::kVarifocal, q.logits, q.boxes, q.pairs, q.targets, 0.25, 1.0).item<double>(),
              kLn2 + 0.1875 * kLn2, 1e-6);
  // Divided by num_boxes.
  EXPECT_NEAR(classification_loss(ClassLoss::kIaBce, q.logits, q.boxes, q.pairs, q.targets, 0.25, 4.0).item<double>(),
              1.25 * kLn2 / 4, 1e-6);
}

TEST(ClassLoss, IaBceTargetIsClampedAt001) {
  // A predicted box far from its object: IoU 0, so t = 0.01.
  OneQuery q;
  q.boxes = torch::tensor({0.1f, 0.1f, 0.05f, 0.05f}).view({1, 1, 4});
  const double t = 0.01;
  const double expected = -std::log(0.5) * (t + (1 - t)) + 0.25 * kLn2;
  EXPECT_NEAR(classification_loss(ClassLoss::kIaBce, q.logits, q.boxes, q.pairs, q.targets, 0.25, 1.0).item<double>(),
              expected, 1e-6);
}

TEST(ClassLoss, ParsesNames) {
  EXPECT_EQ(class_loss_from_name("ia_bce"), ClassLoss::kIaBce);
  EXPECT_EQ(class_loss_from_name("focal"), ClassLoss::kFocal);
  EXPECT_EQ(class_loss_from_name("varifocal"), ClassLoss::kVarifocal);
  EXPECT_THROW(class_loss_from_name("softmax"), std::invalid_argument);
}

// A random batch: 2 images, 6 queries, 5 classes; image 0 has 2 objects, image 1 has 1.
struct RandomBatch {
  torch::Tensor logits, boxes;
  TargetBatch targets;
  MatchedPairs pairs;
  std::vector<ImageMatch> matches = {ImageMatch{{1, 4}, {1, 0}}, ImageMatch{{2}, {0}}};
  RandomBatch() {
    torch::manual_seed(11);
    logits = (torch::randn({2, 6, 5}) * 2).requires_grad_();
    boxes = torch::rand({2, 6, 4}) * 0.4 + 0.2;
    Targets a, b;
    a.labels = torch::tensor({3, 1}, torch::kLong);
    a.boxes = torch::rand({2, 4}) * 0.4 + 0.2;
    b.labels = torch::tensor({4}, torch::kLong);
    b.boxes = boxes[1][2].detach().view({1, 4}) + 0.01;  // a close match: IoU near 1
    targets = make_target_batch({a, b}, torch::kCPU);
    pairs = matched_pairs({matches}, targets, torch::kCPU)[0];
  }
  // Reference layout: (image, query) of each pair, and the matched objects' labels / boxes.
  std::vector<torch::Tensor> positions() const {
    return {pairs.image, pairs.query, targets.labels.index_select(0, pairs.target)};
  }
  torch::Tensor ious() const {
    const torch::Tensor predicted = boxes.index({pairs.image, pairs.query});
    const torch::Tensor target = targets.boxes.index_select(0, pairs.target);
    return pairwise_box_iou(cxcywh_to_xyxy(predicted), cxcywh_to_xyxy(target)).iou.diagonal();
  }
};

std::vector<torch::indexing::TensorIndex> as_indices(const std::vector<torch::Tensor>& positions) {
  return {positions[0], positions[1], positions[2]};
}

// RF-DETR's loss_labels with ia_bce_loss = True, written out densely.
torch::Tensor dense_ia_bce(const RandomBatch& r, double alpha, double num_boxes) {
  const torch::Tensor& x = r.logits;
  const torch::Tensor prob = x.sigmoid();
  torch::Tensor pos_weights = torch::zeros_like(x);
  torch::Tensor neg_weights = prob.pow(2);
  const auto index = as_indices(r.positions());
  const torch::Tensor t =
      (prob.index(index).pow(alpha) * r.ious().pow(1 - alpha))
          .clamp_min(0.01)
          .detach();
  pos_weights.index_put_(index, t);
  neg_weights.index_put_(index, 1 - t);
  return (neg_weights * x - at::log_sigmoid(x) * (pos_weights + neg_weights)).sum() / num_boxes;
}

// sigmoid_focal_loss / sigmoid_varifocal_loss over [B, Q, C] targets, mean(1).sum() / n * Q.
torch::Tensor dense_focal(const RandomBatch& r, double alpha, double num_boxes, bool varifocal) {
  const torch::Tensor& x = r.logits;
  torch::Tensor targets = torch::zeros_like(x).detach();
  targets.index_put_(as_indices(r.positions()),
                     varifocal ? r.ious() : torch::ones({r.pairs.size()}));
  const torch::Tensor prob = x.sigmoid();
  const torch::Tensor ce =
      at::binary_cross_entropy_with_logits(x, targets, {}, {}, at::Reduction::None);
  torch::Tensor loss;
  if (varifocal) {
    const torch::Tensor weight = targets * (targets > 0).to(torch::kFloat) +
                                 (1 - alpha) * (prob - targets).abs().pow(2) * (targets <= 0).to(torch::kFloat);
    loss = ce * weight;
  } else {
    const torch::Tensor p_t = prob * targets + (1 - prob) * (1 - targets);
    loss = (alpha * targets + (1 - alpha) * (1 - targets)) * ce * (1 - p_t).pow(2);
  }
  return loss.mean(1).sum() / num_boxes * x.size(1);
}

void expect_same_value_and_gradient(const torch::Tensor& ours, const torch::Tensor& reference,
                                    const torch::Tensor& logits) {
  EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-5);
  const torch::Tensor grad_ours = torch::autograd::grad({ours}, {logits})[0];
  const torch::Tensor grad_reference = torch::autograd::grad({reference}, {logits})[0];
  EXPECT_TRUE(torch::allclose(grad_ours, grad_reference, 1e-5, 1e-6))
      << (grad_ours - grad_reference).abs().max().item<double>();
}

TEST(ClassLoss, IaBceEqualsTheDenseReferenceWithGradients) {
  const RandomBatch r;
  // The negatives' p^2 is not detached: its gradient must be there.
  expect_same_value_and_gradient(
      classification_loss(ClassLoss::kIaBce, r.logits, r.boxes, r.pairs, r.targets, 0.25, 3.0),
      dense_ia_bce(r, 0.25, 3.0), r.logits);
}

TEST(ClassLoss, FocalEqualsTheDenseReferenceWithGradients) {
  const RandomBatch r;
  expect_same_value_and_gradient(
      classification_loss(ClassLoss::kFocal, r.logits, r.boxes, r.pairs, r.targets, 0.25, 3.0),
      dense_focal(r, 0.25, 3.0, false), r.logits);
}

TEST(ClassLoss, VarifocalEqualsTheDenseReferenceWithGradients) {
  const RandomBatch r;
  expect_same_value_and_gradient(
      classification_loss(ClassLoss::kVarifocal, r.logits, r.boxes, r.pairs, r.targets, 0.4, 3.0),
      dense_focal(r, 0.4, 3.0, true), r.logits);
}

TEST(ClassLoss, WithoutMatchesOnlyTheNegativeTermRemains) {
  const RandomBatch r;
  const MatchedPairs none = matched_pairs({{ImageMatch{}, ImageMatch{}}}, r.targets, torch::kCPU)[0];
  const torch::Tensor x = r.logits.detach();
  const torch::Tensor expected = (x.sigmoid().pow(2) * at::softplus(x)).sum();
  EXPECT_NEAR(classification_loss(ClassLoss::kIaBce, r.logits, r.boxes, none, r.targets, 0.25, 1.0).item<double>(),
              expected.item<double>(), 1e-5);
}

TEST(ClassLoss, HalfPrecisionLogitsGetTheirGradientInTheirOwnPrecision) {
  // Under autocast the logits are bf16; the loss is summed in fp32 and the gradient comes back
  // as bf16, close to the fp32 computation's.
  const RandomBatch r;
  const torch::Tensor half = r.logits.detach().to(torch::kBFloat16).requires_grad_();
  const torch::Tensor full = half.detach().to(torch::kFloat).requires_grad_();
  const torch::Tensor loss_half = classification_loss(ClassLoss::kFocal, half, r.boxes, r.pairs, r.targets, 0.25, 3.0);
  const torch::Tensor loss_full = classification_loss(ClassLoss::kFocal, full, r.boxes, r.pairs, r.targets, 0.25, 3.0);
  EXPECT_EQ(loss_half.scalar_type(), torch::kFloat);
  EXPECT_NEAR(loss_half.item<double>(), loss_full.item<double>(), 1e-2);
  const torch::Tensor grad_half = torch::autograd::grad({loss_half}, {half})[0];
  const torch::Tensor grad_full = torch::autograd::grad({loss_full}, {full})[0];
  EXPECT_EQ(grad_half.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::allclose(grad_half.to(torch::kFloat), grad_full, 2e-2, 1e-3))
      << (grad_half.to(torch::kFloat) - grad_full).abs().max().item<double>();
}

TEST(BoxLoss, L1AndGiouOfMatchedPairs) {
  const RandomBatch r;
  const BoxLosses losses = box_losses(r.boxes, r.pairs, r.targets, 2.0);
  const torch::Tensor predicted = r.boxes.index({r.pairs.image, r.pairs.query});
  const torch::Tensor target = r.targets.boxes.index_select(0, r.pairs.target);
  EXPECT_NEAR(losses.l1.item<double>(), ((predicted - target).abs().sum() / 2).item<double>(), 1e-6);
  const torch::Tensor giou =
      pairwise_generalized_box_iou(cxcywh_to_xyxy(predicted), cxcywh_to_xyxy(target)).diagonal();
  EXPECT_NEAR(losses.giou.item<double>(), ((1 - giou).sum() / 2).item<double>(), 1e-6);
}

TEST(BoxLoss, HandValues) {
  // Prediction (0.5, 0.5, 0.2, 0.2) vs object (0.6, 0.5, 0.2, 0.2): L1 = 0.1;
  // boxes [0.4,0.4,0.6,0.6] and [0.5,0.4,0.7,0.6]: IoU = 0.02 / 0.06 = 1/3, hull 0.06 = union,
  // so GIoU = 1/3 and the loss is 2/3.
  OneQuery q;
  q.targets.boxes = torch::tensor({0.6f, 0.5f, 0.2f, 0.2f}).view({1, 4});
  const BoxLosses losses = box_losses(q.boxes, q.pairs, q.targets, 1.0);
  EXPECT_NEAR(losses.l1.item<double>(), 0.1, 1e-6);
  EXPECT_NEAR(losses.giou.item<double>(), 2.0 / 3.0, 1e-6);
}

}  // namespace
}  // namespace rtseg::framework::criterion
