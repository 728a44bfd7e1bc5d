// The matcher: per-image cost blocks against RF-DETR's batch-wide formulation, group splitting,
// more objects than queries, images without objects, NaN/inf costs, and the num_boxes normaliser.
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/box_ops.h"
#include "rtseg/framework/criterion/set_criterion.h"

namespace rtseg::framework::criterion {
namespace {

using ::testing::ElementsAre;

Targets make_targets(std::vector<std::int64_t> labels, const torch::Tensor& boxes) {
  Targets t;
  t.labels = torch::tensor(labels, torch::kLong);
  t.boxes = boxes;
  return t;
}

SupervisedOutput random_output(std::int64_t batch, std::int64_t queries, std::int64_t classes,
                               std::uint64_t seed) {
  torch::manual_seed(seed);
  SupervisedOutput o;
  o.logits = torch::randn({batch, queries, classes}) * 2;
  o.boxes = torch::rand({batch, queries, 4}) * 0.5 + 0.2;
  return o;
}

// RF-DETR's formulation: all B x Q predictions against all objects of the batch, then split.
torch::Tensor batch_wide_costs(const SupervisedOutput& o, const TargetBatch& t, const MatcherOptions& w) {
  const torch::Tensor logits = o.logits.flatten(0, 1);
  const torch::Tensor prob = logits.sigmoid();
  const torch::Tensor boxes = o.boxes.flatten(0, 1);
  const torch::Tensor giou = pairwise_generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(t.boxes));
  const torch::Tensor neg = 0.75 * prob.pow(2) * (-at::log_sigmoid(-logits));
  const torch::Tensor pos = 0.25 * (1 - prob).pow(2) * (-at::log_sigmoid(logits));
  const torch::Tensor cls = pos.index_select(1, t.labels) - neg.index_select(1, t.labels);
  const torch::Tensor l1 = torch::cdist(boxes, t.boxes, 1);
  return (w.bbox_cost * l1 + w.class_cost * cls + w.giou_cost * (-giou)).view({o.logits.size(0), o.logits.size(1), -1});
}

TEST(MatchingCosts, PerImageBlocksEqualTheBatchWideCosts) {
  const SupervisedOutput o = random_output(3, 8, 5, 1);
  torch::manual_seed(2);
  const TargetBatch t = make_target_batch(
      {make_targets({1, 4}, torch::rand({2, 4}) * 0.5 + 0.2), make_targets({}, torch::zeros({0, 4})),
       make_targets({0, 0, 3}, torch::rand({3, 4}) * 0.5 + 0.2)},
      torch::kCPU);
  const MatcherOptions weights;
  at::Generator generator = at::detail::createCPUGenerator(0);
  const torch::Tensor ours = matching_costs(o, t, weights, 16, generator);
  ASSERT_EQ(ours.sizes(), (std::vector<std::int64_t>{3, 8, 3}));
  const torch::Tensor reference = batch_wide_costs(o, t, weights);
  for (std::int64_t b = 0; b < 3; ++b) {
    const torch::Tensor block = reference[b].narrow(1, t.first[b], t.sizes[b]);
    EXPECT_TRUE(torch::allclose(ours[b].narrow(1, 0, t.sizes[b]), block, 1e-5, 1e-6)) << "image " << b;
  }
}

TEST(MatchingCosts, NonFiniteCostsBecomeTwiceTheLargestFiniteOne) {
  const TargetBatch t = make_target_batch(
      {make_targets({0, 1}, torch::rand({2, 4})), make_targets({1}, torch::rand({1, 4}))}, torch::kCPU);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // Image 1's second column is padding: its 100 must not count as the largest cost.
  const torch::Tensor costs = torch::tensor({1.f, nan, 3.f, -inf, inf, 100.f, 2.f, 100.f}).view({2, 2, 2});
  const torch::Tensor fixed = finite_costs(costs, t);
  EXPECT_TRUE(torch::equal(fixed, torch::tensor({1.f, 6.f, 3.f, 6.f, 6.f, 100.f, 2.f, 100.f}).view({2, 2, 2})));
  // Nothing finite at all: 0.
  const torch::Tensor all_nan = torch::full({2, 2, 2}, nan);
  EXPECT_EQ(finite_costs(all_nan, t).abs().sum().item<float>(), 0.f);
}

TEST(Matcher, NanPredictionsAreNotMatched) {
  SupervisedOutput o = random_output(1, 4, 3, 5);
  // Query 1 would be a perfect match; NaN logits make its costs NaN -> 2 x max: never chosen.
  const torch::Tensor box = torch::tensor({0.4f, 0.4f, 0.2f, 0.2f});
  o.boxes[0][1] = box;
  o.logits[0][1].fill_(std::numeric_limits<float>::quiet_NaN());
  const TargetBatch t = make_target_batch({make_targets({2}, box.view({1, 4}))}, torch::kCPU);
  at::Generator generator = at::detail::createCPUGenerator(0);
  const auto matches = HungarianMatcher(MatcherOptions{}, 16).match({o}, t, 1, generator);
  ASSERT_EQ(matches[0][0].queries.size(), 1u);
  EXPECT_NE(matches[0][0].queries[0], 1);
}

TEST(Matcher, EveryGroupIsMatchedSeparatelyWithItsOffset) {
  // 2 groups of 3 queries, 2 objects. Costs favour queries 2 and 0 in group 0, 5 and 4 in group 1.
  const std::vector<float> costs = {
      1, 9,  // query 0
      9, 9,  // query 1
      9, 1,  // query 2
      9, 9,  // query 3 (group 1)
      9, 1,  // query 4
      1, 9,  // query 5
  };
  const OutputMatches m = assign_per_group(costs.data(), 6, 2, {2}, 2);
  EXPECT_THAT(m[0].queries, ElementsAre(0, 2, 4, 5));
  EXPECT_THAT(m[0].targets, ElementsAre(0, 1, 1, 0));
}

TEST(Matcher, MoreObjectsThanQueriesInAGroupAssignsEveryQuery) {
  const SupervisedOutput o = random_output(1, 4, 3, 7);
  torch::manual_seed(8);
  const TargetBatch t = make_target_batch({make_targets({0, 1, 2}, torch::rand({3, 4}) * 0.5 + 0.2)}, torch::kCPU);
  at::Generator generator = at::detail::createCPUGenerator(0);
  const auto matches = HungarianMatcher(MatcherOptions{}, 16).match({o}, t, 2, generator);
  const ImageMatch& m = matches[0][0];
  // min(queries per group, objects) = 2 pairs per group, every query used once.
  EXPECT_THAT(m.queries, ElementsAre(0, 1, 2, 3));
  EXPECT_NE(m.targets[0], m.targets[1]);
  EXPECT_NE(m.targets[2], m.targets[3]);
}

TEST(Matcher, RejectsQueriesThatDoNotSplitIntoGroups) {
  const SupervisedOutput o = random_output(1, 5, 3, 7);
  const TargetBatch t = make_target_batch({make_targets({0}, torch::rand({1, 4}))}, torch::kCPU);
  at::Generator generator = at::detail::createCPUGenerator(0);
  EXPECT_THROW(HungarianMatcher(MatcherOptions{}, 16).match({o}, t, 2, generator), c10::Error);
}

TEST(SetCriterionTest, ImageWithoutObjectsOnlyGetsTheNoObjectTerm) {
  SupervisedOutput o = random_output(2, 6, 3, 9);
  o.logits.requires_grad_();
  torch::manual_seed(10);
  const TargetBatch t = make_target_batch(
      {make_targets({1, 2}, torch::rand({2, 4}) * 0.5 + 0.2), make_targets({}, torch::zeros({0, 4}))}, torch::kCPU);
  at::Generator generator = at::detail::createCPUGenerator(0);
  const CriterionResult r = SetCriterion(LossOptions{}, MatcherOptions{})({o}, t, 2, generator);
  EXPECT_TRUE(r.matches[0][1].queries.empty());
  EXPECT_EQ(r.matches[0][0].queries.size(), 4u);  // 2 objects x 2 groups
  EXPECT_EQ(r.num_boxes, 4.0);
  // Image 1's logits get exactly the gradient of sum p^2 softplus(x) / num_boxes.
  const torch::Tensor grad = torch::autograd::grad({r.loss("loss_ce")}, {o.logits})[0][1];
  const torch::Tensor x = o.logits[1].detach().requires_grad_();
  const torch::Tensor negative = (x.sigmoid().pow(2) * at::softplus(x)).sum() / 4.0;
  EXPECT_TRUE(torch::allclose(grad, torch::autograd::grad({negative}, {x})[0], 1e-5, 1e-7));
}

TEST(SetCriterionTest, NumBoxesIsObjectsTimesGroupsOrTheRanksMeanCountClampedAtOne) {
  const SupervisedOutput o = random_output(2, 6, 3, 12);
  torch::manual_seed(13);
  const TargetBatch t = make_target_batch(
      {make_targets({1, 2}, torch::rand({2, 4}) * 0.5 + 0.2), make_targets({0}, torch::rand({1, 4}) * 0.5 + 0.2)},
      torch::kCPU);
  EXPECT_EQ(local_num_boxes(3, 3), 9.0);
  at::Generator generator = at::detail::createCPUGenerator(0);
  SetCriterion criterion(LossOptions{}, MatcherOptions{});
  const CriterionResult plain = criterion({o}, t, 3, generator);
  EXPECT_EQ(plain.num_boxes, 9.0);

  // Data parallel: the mean object count over the ranks (here twice this batch's 3).
  const CriterionResult reduced = criterion({o}, t, 3, generator, 6.0);
  EXPECT_EQ(reduced.num_boxes, 18.0);
  EXPECT_NEAR(reduced.loss("loss_bbox").item<double>(), plain.loss("loss_bbox").item<double>() / 2, 1e-7);
  EXPECT_NEAR(reduced.total.item<double>(), plain.total.item<double>() / 2, 1e-6);

  EXPECT_EQ(criterion({o}, t, 3, generator, 0.25).num_boxes, 1.0);  // 0.75, clamped

  const TargetBatch empty = make_target_batch(
      {make_targets({}, torch::zeros({0, 4})), make_targets({}, torch::zeros({0, 4}))}, torch::kCPU);
  const CriterionResult none = SetCriterion(LossOptions{}, MatcherOptions{})({o}, empty, 3, generator);
  EXPECT_EQ(none.num_boxes, 1.0);
  EXPECT_EQ(none.loss("loss_bbox").item<double>(), 0.0);
  EXPECT_EQ(none.loss("loss_giou").item<double>(), 0.0);
  EXPECT_GT(none.loss("loss_ce").item<double>(), 0.0);
}

TEST(SetCriterionTest, TotalIsTheWeightedSumInLossDictOrder) {
  const SupervisedOutput o = random_output(1, 6, 3, 14);
  torch::manual_seed(15);
  const TargetBatch t = make_target_batch({make_targets({1}, torch::rand({1, 4}) * 0.5 + 0.2)}, torch::kCPU);
  LossOptions options;
  options.class_weight = 2.0;
  options.bbox_weight = 3.0;
  options.giou_weight = 0.5;
  at::Generator generator = at::detail::createCPUGenerator(0);
  const CriterionResult r = SetCriterion(options, MatcherOptions{})({o}, t, 1, generator);
  const double expected = 2.0 * r.loss("loss_ce").item<double>() + 3.0 * r.loss("loss_bbox").item<double>() +
                          0.5 * r.loss("loss_giou").item<double>();
  EXPECT_NEAR(r.total.item<double>(), expected, 1e-6);
  EXPECT_THROW(r.loss("loss_mask_ce"), std::out_of_range);
  EXPECT_THROW(SetCriterion(LossOptions{"softmax"}, MatcherOptions{}), std::invalid_argument);
}

}  // namespace
}  // namespace rtseg::framework::criterion
