// Parity of the criterion with RF-DETR 1.4.1's HungarianMatcher + SetCriterion on the
// tiny_det_train fixture: its train-mode outputs (13 groups), targets, matches and losses.
#include <filesystem>
#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rtseg/framework/criterion/set_criterion.h"
#include "rtseg/sdk/safetensors.h"

namespace rtseg::framework::criterion {
namespace {

const std::filesystem::path kFixture =
    std::filesystem::path(RTSEG_RFDETR_FIXTURES) / "tiny_det_train";
constexpr double kLossTolerance = 1e-5;  // the fixtures' README
constexpr std::int64_t kGroups = 13;

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(kFixture / name);
  return nlohmann::json::parse(in);
}

class CriterionParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::is_directory(kFixture)) {
      GTEST_SKIP() << "RF-DETR fixture " << kFixture.string()
                   << " not found (RTSEG_RFDETR_FIXTURES: ../shared/fixtures/rfdetr beside the "
                      "checkout); criterion parity not checked";
    }
    const auto file = sdk::SafetensorsFile::open(kFixture / "outputs.safetensors");
    auto output = [&](const std::string& suffix, const std::string& prefix) {
      SupervisedOutput o;
      o.suffix = suffix;
      o.logits = file.get(prefix + "pred_logits").clone();
      o.boxes = file.get(prefix + "pred_boxes").clone();
      return o;
    };
    outputs_ = {output("", ""), output("_0", "aux_0_"), output("_enc", "enc_")};

    const nlohmann::json targets = read_json("targets.json");
    for (const auto& image : targets["targets"]) {
      Targets t;
      t.labels = torch::tensor(image["labels"].get<std::vector<std::int64_t>>(), torch::kLong);
      std::vector<float> boxes;
      for (const auto& box : image["boxes"]) {
        for (const auto& v : box) boxes.push_back(v.get<float>());
      }
      t.boxes = torch::tensor(boxes).view({-1, 4});
      targets_.push_back(t);
    }
  }

  std::vector<SupervisedOutput> outputs_;
  std::vector<Targets> targets_;
  at::Generator generator_ = at::detail::createCPUGenerator(0);
};

void expect_same_matches(const OutputMatches& ours, const nlohmann::json& expected,
                         const std::string& what) {
  ASSERT_EQ(ours.size(), expected.size()) << what;
  for (std::size_t b = 0; b < ours.size(); ++b) {
    EXPECT_EQ(ours[b].queries, expected[b]["query_indices"].get<std::vector<std::int64_t>>())
        << what << " image " << b;
    EXPECT_EQ(ours[b].targets, expected[b]["target_indices"].get<std::vector<std::int64_t>>())
        << what << " image " << b;
  }
}

TEST_F(CriterionParity, MatchesAreRfdetrs) {
  const TargetBatch batch = make_target_batch(targets_, torch::kCPU);
  const HungarianMatcher matcher(MatcherOptions{}, 16);
  const auto matches = matcher.match(outputs_, batch, kGroups, generator_);
  const nlohmann::json expected = read_json("matches.json");
  ASSERT_EQ(matches.size(), 3u);
  expect_same_matches(matches[0], expected["last_layer"], "last layer");
  expect_same_matches(matches[1], expected["aux"][0], "aux layer 0");
  expect_same_matches(matches[2], expected["enc"], "encoder");
}

TEST_F(CriterionParity, LossesAndWeightedTotalAreRfdetrs) {
  const SetCriterion criterion(LossOptions{}, MatcherOptions{});
  const TargetBatch batch = make_target_batch(targets_, torch::kCPU);
  const CriterionResult result = criterion(outputs_, batch, kGroups, generator_);

  const nlohmann::json expected = read_json("losses.json");
  EXPECT_EQ(result.num_boxes, expected["settings"]["num_boxes_normaliser"].get<double>());
  std::vector<std::string> names;
  for (const auto& [name, value] : result.losses) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0",
                                             "loss_bbox_0", "loss_giou_0", "loss_ce_enc",
                                             "loss_bbox_enc", "loss_giou_enc"}));
  for (const auto& [name, value] : expected["losses"].items()) {
    EXPECT_NEAR(result.loss(name).item<double>(), value.get<double>(), kLossTolerance) << name;
    EXPECT_EQ(criterion.weight(name), expected["weight_dict"][name].get<double>()) << name;
  }
  EXPECT_NEAR(result.total.item<double>(), expected["weighted_total"].get<double>(), kLossTolerance);
}

TEST_F(CriterionParity, DecoderOutputsPathGivesTheSameTotal) {
  // The same predictions handed over as a decoder's outputs (layers + two-stage proposals).
  sdk::DecoderOutputs decoded;
  decoded.layers = {{outputs_[1].logits, outputs_[1].boxes, {}}, {outputs_[0].logits, outputs_[0].boxes, {}}};
  decoded.encoder = {outputs_[2].logits, outputs_[2].boxes, {}};
  decoded.num_groups = kGroups;
  const SetCriterion criterion(LossOptions{}, MatcherOptions{});
  const CriterionResult result = criterion(decoded, nullptr, targets_, generator_);
  EXPECT_NEAR(result.total.item<double>(), read_json("losses.json")["weighted_total"].get<double>(),
              kLossTolerance);

  LossOptions last_layer_only;
  last_layer_only.aux_loss = false;
  const CriterionResult single = SetCriterion(last_layer_only, MatcherOptions{})(decoded, nullptr, targets_, generator_);
  EXPECT_EQ(single.losses.size(), 3u);
  EXPECT_EQ(single.matches.size(), 1u);
}

}  // namespace
}  // namespace rtseg::framework::criterion
