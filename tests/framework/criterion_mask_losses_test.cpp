// Mask costs and losses from the factored embedding against a slow dense reference: full
// [B, Q, h, w] mask logits, the same points (same seeded generator, same draw order), BCE and
// dice written out as RF-DETR writes them.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/matcher.h"
#include "rtseg/framework/criterion/point_sampling.h"
#include "rtseg/framework/criterion/set_criterion.h"

namespace rtseg::framework::criterion {
namespace {

constexpr std::int64_t kBatch = 2, kQueries = 6, kDim = 8, kHeight = 12, kWidth = 16;
constexpr std::int64_t kMaskHeight = 48, kMaskWidth = 64;  // targets at image resolution

// grid_sample on [N, C, H, W] at points [N, P, 2] in [0, 1]: bilinear or nearest, border.
torch::Tensor reference_point_sample(const torch::Tensor& input, const torch::Tensor& points, bool nearest) {
  return at::grid_sampler(input, (2 * points - 1).unsqueeze(2), nearest ? 1 : 0, 1, false).squeeze(3);
}

struct MaskBatch {
  sdk::MaskEmbedding embedding;
  TargetBatch targets;
  std::vector<torch::Tensor> target_masks;  // per image [N, H, W] bool

  MaskBatch() {
    torch::manual_seed(21);
    embedding.pixels = torch::randn({kBatch, kDim, kHeight, kWidth}).requires_grad_();
    embedding.queries = torch::randn({kBatch, kQueries, kDim}).requires_grad_();
    embedding.bias = torch::tensor({0.3f}).requires_grad_();
    std::vector<Targets> per_image;
    for (std::int64_t n : {3, 2}) {
      Targets t;
      t.labels = torch::zeros({n}, torch::kLong);
      t.boxes = torch::rand({n, 4}) * 0.4 + 0.3;
      t.masks = torch::rand({n, kMaskHeight, kMaskWidth}) > 0.6;
      target_masks.push_back(t.masks);
      per_image.push_back(t);
    }
    targets = make_target_batch(per_image, torch::kCPU);
  }
  torch::Tensor dense_logits() const { return sdk::mask_logits(embedding); }
};

TEST(PointSampling, NearestIndicesReadWhatGridSampleReads) {
  torch::manual_seed(22);
  const torch::Tensor image = torch::rand({1, 1, 7, 9});
  // Include the borders and points exactly between pixels.
  const torch::Tensor points = torch::cat({torch::rand({200, 2}),
                                           torch::tensor({0.f, 0.f, 1.f, 1.f, 0.5f, 0.5f, 1.f / 18, 1.f / 14}).view({4, 2})});
  const torch::Tensor expected = reference_point_sample(image, points.unsqueeze(0), true).view(-1);
  const torch::Tensor index = nearest_pixel_indices(points, 7, 9);
  EXPECT_TRUE(torch::equal(image.view(-1).index_select(0, index), expected));
}

TEST(MaskCosts, FactoredPointCostsEqualTheDenseReference) {
  const MaskBatch m;
  SupervisedOutput output;
  output.logits = torch::zeros({kBatch, kQueries, 2});
  output.boxes = torch::rand({kBatch, kQueries, 4}) * 0.4 + 0.3;
  output.masks = m.embedding;
  const std::int64_t num_points = kHeight * kWidth / 4;

  // Dense reference: the same rand(P, 2) draw, full logits, pairwise BCE / dice per image.
  at::Generator reference_generator = at::detail::createCPUGenerator(5);
  const torch::Tensor points = at::rand({num_points, 2}, reference_generator);
  const torch::Tensor dense = m.dense_logits().detach();
  for (const bool dice : {false, true}) {
    MatcherOptions options;
    options.class_cost = options.bbox_cost = options.giou_cost = 0;
    options.mask_ce_cost = dice ? 0 : 1;
    options.mask_dice_cost = dice ? 1 : 0;
    at::Generator generator = at::detail::createCPUGenerator(5);
    const torch::Tensor ours = matching_costs(output, m.targets, options, 4, generator);
    for (std::int64_t b = 0; b < kBatch; ++b) {
      const torch::Tensor x = reference_point_sample(dense[b].unsqueeze(1), points.expand({kQueries, num_points, 2}), false).squeeze(1);
      const torch::Tensor masks = m.target_masks[b].to(torch::kFloat).unsqueeze(1);
      const std::int64_t n = masks.size(0);
      const torch::Tensor t = reference_point_sample(masks, points.expand({n, num_points, 2}), true).squeeze(1);
      torch::Tensor expected;
      if (dice) {
        const torch::Tensor p = x.sigmoid();
        expected = 1 - (2 * p.mm(t.t()) + 1) / (p.sum(-1).unsqueeze(1) + t.sum(-1).unsqueeze(0) + 1);
      } else {
        const torch::Tensor pos = at::binary_cross_entropy_with_logits(x, torch::ones_like(x), {}, {}, at::Reduction::None);
        const torch::Tensor neg = at::binary_cross_entropy_with_logits(x, torch::zeros_like(x), {}, {}, at::Reduction::None);
        expected = (pos.mm(t.t()) + neg.mm((1 - t).t())) / num_points;
      }
      EXPECT_TRUE(torch::allclose(ours[b].narrow(1, 0, n), expected, 1e-5, 1e-5))
          << (dice ? "dice" : "bce") << " image " << b << ": "
          << (ours[b].narrow(1, 0, n) - expected).abs().max().item<double>();
    }
  }
}

TEST(MaskLosses, MatchedLogitsAreTheDenseLogitsOfTheMatchedQueries) {
  const MaskBatch m;
  const MatchedPairs pairs =
      matched_pairs({{ImageMatch{{4, 0, 5}, {1, 0, 2}}, ImageMatch{{2}, {1}}}}, m.targets, torch::kCPU)[0];
  const torch::Tensor ours = matched_mask_logits(m.embedding, pairs);
  const torch::Tensor expected = m.dense_logits().index({pairs.image, pairs.query});
  EXPECT_TRUE(torch::allclose(ours, expected, 1e-5, 1e-5));
}

// RF-DETR's get_uncertain_point_coords_with_randomness, written out on dense logits [K, 1, h, w].
torch::Tensor reference_uncertain_points(const torch::Tensor& logits, std::int64_t num_points, at::Generator& g) {
  const std::int64_t k = logits.size(0), sampled = 3 * num_points;
  const torch::Tensor candidates = at::rand({k, sampled, 2}, g);
  const torch::Tensor uncertainty = -reference_point_sample(logits, candidates, false).abs();
  const auto num_uncertain = static_cast<std::int64_t>(0.75 * num_points);
  torch::Tensor index = std::get<1>(uncertainty.select(1, 0).topk(num_uncertain, 1));
  index = index + sampled * torch::arange(k, torch::kLong).unsqueeze(1);
  torch::Tensor points = candidates.view({-1, 2}).index_select(0, index.view(-1)).view({k, num_uncertain, 2});
  return torch::cat({points, at::rand({k, num_points - num_uncertain, 2}, g)}, 1);
}

TEST(MaskLosses, FactoredLossesEqualTheDenseReferenceWithGradients) {
  const MaskBatch m;
  const std::vector<ImageMatch> matches = {ImageMatch{{4, 0, 5}, {1, 0, 2}}, ImageMatch{{2}, {1}}};
  const MatchedPairs pairs = matched_pairs({matches}, m.targets, torch::kCPU)[0];
  const double num_boxes = 7.0;
  const std::int64_t ratio = 4;

  at::Generator generator = at::detail::createCPUGenerator(9);
  const MaskLosses ours = mask_losses(m.embedding, pairs, m.targets, ratio, num_boxes, generator);

  at::Generator reference_generator = at::detail::createCPUGenerator(9);
  const torch::Tensor src = m.dense_logits().index({pairs.image, pairs.query}).unsqueeze(1);
  const std::int64_t num_points = std::max(kHeight, kHeight * kWidth / ratio);
  const torch::Tensor points = reference_uncertain_points(src.detach(), num_points, reference_generator);
  const torch::Tensor x = reference_point_sample(src, points, false).squeeze(1);
  const torch::Tensor target_masks = m.targets.masks.index_select(0, pairs.target).to(torch::kFloat).unsqueeze(1);
  const torch::Tensor t = reference_point_sample(target_masks, points, true).squeeze(1);
  const torch::Tensor ce =
      at::binary_cross_entropy_with_logits(x, t, {}, {}, at::Reduction::None).mean(1).sum() / num_boxes;
  const torch::Tensor p = x.sigmoid();
  const torch::Tensor dice = (1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)).sum() / num_boxes;

  EXPECT_NEAR(ours.ce.item<double>(), ce.item<double>(), 1e-6);
  EXPECT_NEAR(ours.dice.item<double>(), dice.item<double>(), 1e-6);
  const std::vector<torch::Tensor> inputs = {m.embedding.pixels, m.embedding.queries, m.embedding.bias};
  const auto grads_ours = torch::autograd::grad({ours.ce + 2 * ours.dice}, inputs);
  const auto grads_reference = torch::autograd::grad({ce + 2 * dice}, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_TRUE(torch::allclose(grads_ours[i], grads_reference[i], 1e-5, 1e-7)) << "input " << i;
  }
}

TEST(MaskLosses, CriterionAddsMaskLossesAndIsDeterministicForASeed) {
  const MaskBatch m;
  SupervisedOutput output;
  torch::manual_seed(30);
  output.logits = torch::randn({kBatch, kQueries, 2});
  output.boxes = torch::rand({kBatch, kQueries, 4}) * 0.4 + 0.3;
  output.masks = m.embedding;
  SupervisedOutput encoder = output;
  encoder.suffix = "_enc";
  const SetCriterion criterion(LossOptions{}, MatcherOptions{});

  at::Generator first = at::detail::createCPUGenerator(3);
  const CriterionResult a = criterion({output, encoder}, m.targets, 2, first);
  std::vector<std::string> names;
  for (const auto& entry : a.losses) names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"loss_ce", "loss_bbox", "loss_giou", "loss_mask_ce",
                                             "loss_mask_dice", "loss_ce_enc", "loss_bbox_enc",
                                             "loss_giou_enc", "loss_mask_ce_enc", "loss_mask_dice_enc"}));
  EXPECT_GT(a.loss("loss_mask_ce").item<double>(), 0.0);
  double expected_total = 0;
  for (const auto& [name, value] : a.losses) expected_total += criterion.weight(name) * value.item<double>();
  EXPECT_NEAR(a.total.item<double>(), expected_total, 1e-5);

  at::Generator second = at::detail::createCPUGenerator(3);
  const CriterionResult b = criterion({output, encoder}, m.targets, 2, second);
  EXPECT_EQ(a.total.item<double>(), b.total.item<double>());
  for (std::size_t o = 0; o < a.matches.size(); ++o) {
    for (std::size_t i = 0; i < a.matches[o].size(); ++i) {
      EXPECT_EQ(a.matches[o][i].queries, b.matches[o][i].queries);
    }
  }
}

TEST(MaskLosses, MasksPredictedWithoutTargetMasksAreAnError) {
  MaskBatch m;
  m.targets.masks = torch::Tensor();
  SupervisedOutput output;
  output.logits = torch::zeros({kBatch, kQueries, 2});
  output.boxes = torch::rand({kBatch, kQueries, 4});
  output.masks = m.embedding;
  at::Generator generator = at::detail::createCPUGenerator(0);
  try {
    SetCriterion(LossOptions{}, MatcherOptions{})({output}, m.targets, 1, generator);
    FAIL() << "expected an error";
  } catch (const c10::Error& error) {
    EXPECT_NE(std::string(error.what()).find("the targets have none"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rtseg::framework::criterion
