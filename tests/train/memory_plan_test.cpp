#include "rtseg/framework/train/memory_plan.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/train_test_support.h"

namespace rtseg::framework::train {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

// A device whose peak is 1 GiB + 0.5 GiB per image at 384, growing with the pixel count.
MemorySample fake_device(std::int64_t batch, std::int64_t side) {
  const double bytes = kGiB + 0.5 * kGiB * batch * std::pow(side / 384.0, 2);
  return {batch, side, static_cast<std::int64_t>(bytes), 10.0};
}

TEST(MemoryPlan, FitRecoversFixedPerImageAndExponent) {
  const MemoryFit fit = fit_memory({fake_device(1, 384), fake_device(2, 384), fake_device(4, 384), fake_device(2, 288)});
  EXPECT_EQ(fit.resolution, 384);
  EXPECT_NEAR(fit.fixed_bytes / kGiB, 1.0, 1e-6);
  EXPECT_NEAR(fit.per_image_bytes / kGiB, 0.5, 1e-6);
  EXPECT_NEAR(fit.exponent, 2.0, 1e-6);
  EXPECT_NEAR(fit.predict(8, 512) / kGiB, 1.0 + 0.5 * 8 * std::pow(512.0 / 384, 2), 1e-6);
  EXPECT_THAT([] { fit_memory({fake_device(1, 384)}); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("at least two batch sizes")));
}

TEST(MemoryPlan, PicksTheLargestBatchUnderTheBudgetAndKeepsTheEffectiveBatch) {
  PlanOptions options;
  options.resolution = 384;
  options.size_divisibility = 32;
  options.budget_bytes = static_cast<std::int64_t>(4 * kGiB);
  options.effective_batch = 8;
  std::vector<std::pair<std::int64_t, std::int64_t>> asked;
  const Plan plan = make_plan(options, [&](std::int64_t batch, std::int64_t side) {
    asked.emplace_back(batch, side);
    return fake_device(batch, side);
  });
  // 90 % of 4 GiB = 3.6 GiB = 1 + 0.5 x 5.2: batch 5 fits; 4 x 2 keeps the effective 8 exactly.
  EXPECT_EQ(plan.batch, 4);
  EXPECT_EQ(plan.accum, 2);
  EXPECT_TRUE(plan.fits_at_batch_1);
  EXPECT_THAT(asked, ::testing::ElementsAre(std::make_pair(1, 384), std::make_pair(2, 384), std::make_pair(2, 288)));
}

TEST(MemoryPlan, StopsAtTheRecipesBatchAndReportsWhenNothingFits) {
  PlanOptions options;
  options.resolution = 384;
  options.budget_bytes = static_cast<std::int64_t>(16 * kGiB);
  options.effective_batch = 4;
  const Plan roomy = make_plan(options, fake_device);
  EXPECT_EQ(roomy.batch, 4);
  EXPECT_EQ(roomy.accum, 1);

  options.budget_bytes = static_cast<std::int64_t>(1.2 * kGiB);
  const Plan tight = make_plan(options, fake_device);
  EXPECT_EQ(tight.batch, 0);
  EXPECT_FALSE(tight.fits_at_batch_1);

  // Out of memory at batch 2: one measurement, batch 1 recommended with the whole batch as accum.
  options.budget_bytes = static_cast<std::int64_t>(2 * kGiB);
  const Plan one = make_plan(options, [](std::int64_t batch, std::int64_t side) {
    return batch > 1 ? MemorySample{batch, side, 0, 0} : fake_device(batch, side);
  });
  EXPECT_EQ(one.measured.size(), 1u);
  EXPECT_EQ(one.batch, 1);
  EXPECT_EQ(one.accum, 4);
}

// The check: on the CPU, for a small model, the prediction for a batch that was not
// measured is within 15 % of its measured peak.
TEST(MemoryPlan, PredictsAnUnmeasuredBatchOfARealModelWithin15Percent) {
  torch::set_num_threads(1);
  rtseg::testing::TempDir dir;
  auto runtime = rtseg::testing::make_test_runtime();
  const auto stages = expand_stages(rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir.path(), "", true)));
  const CheckedRecipe recipe = check_recipe(stages.back().document, runtime->registry());
  const auto measure = [&](std::int64_t batch, std::int64_t side) {
    ProbeSettings settings;
    settings.batch = batch;
    settings.resolution = side;
    settings.warmup_steps = 1;
    settings.timed_steps = 1;
    const ProbeResult r = probe_train_step(runtime->registry(), stages.back(), recipe, torch::kCPU, settings);
    return MemorySample{batch, side, r.peak.allocated, r.step_ms};
  };
  PlanOptions options;
  options.resolution = 96;
  options.size_divisibility = 8;
  options.measure_batches = {1, 2};
  const Plan plan = make_plan(options, measure);
  ASSERT_GE(plan.measured.size(), 2u);
  const MemorySample actual = measure(6, 96);
  const double predicted = plan.fit.predict(6, 96);
  EXPECT_NEAR(predicted / static_cast<double>(actual.peak_bytes), 1.0, 0.15)
      << "predicted " << predicted << " bytes, measured " << actual.peak_bytes;
}

}  // namespace
}  // namespace rtseg::framework::train

namespace rtseg::framework::train {
namespace {

// --batch auto: the batch chosen for a budget, measured, stays under the budget; and a pipeline
// with train.auto_batch records its choice (effective batch kept) in the run's recipe.toml.
class AutoBatch : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }

  Stage stage(const std::string& extra = "") {
    LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir_.path(), extra, true));
    apply_overrides(recipe.document, {{"train.batch", "4", ""}, {"train.accum", "2", ""}});
    return expand_stages(recipe).back();
  }

  rtseg::testing::TempDir dir_;
  std::unique_ptr<Runtime> runtime_ = rtseg::testing::make_test_runtime();
};

TEST_F(AutoBatch, TheChosenBatchsMeasuredPeakStaysUnderTheBudget) {
  const Stage tiny = stage();
  const CheckedRecipe recipe = check_recipe(tiny.document, runtime_->registry());
  const Plan unlimited = plan_stage(runtime_->registry(), tiny, recipe, torch::kCPU, 0);
  ASSERT_GE(unlimited.measured.size(), 2u);
  // A budget whose usable part (90 %) holds about 4.5 images: batch 4 (divides the effective 8).
  const auto budget = static_cast<std::int64_t>(
      (unlimited.fit.fixed_bytes + 4.5 * unlimited.fit.per_image_bytes) / 0.9);
  const Plan plan = plan_stage(runtime_->registry(), tiny, recipe, torch::kCPU, budget);
  ASSERT_GE(plan.batch, 1);
  EXPECT_EQ(plan.batch * plan.accum, 8);
  ProbeSettings settings;
  settings.batch = plan.batch;
  settings.warmup_steps = 1;
  settings.timed_steps = 2;
  const ProbeResult measured = probe_train_step(runtime_->registry(), tiny, recipe, torch::kCPU, settings);
  EXPECT_LE(measured.peak.allocated, budget) << "batch " << plan.batch;
}

TEST_F(AutoBatch, APipelineRecordsItsChoiceInTheRunsRecipe) {
  LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir_.path(), "", true));
  apply_overrides(recipe.document, {{"train.batch", "2", ""}, {"train.accum", "2", ""}, {"train.epochs", "1", ""},
                                    {"train.max_steps", "1", ""}, {"train.auto_batch", "true", ""},
                                    {"train.memory_budget", "\"64GiB\"", ""}});
  const auto stages = run_pipeline(*runtime_, recipe, PipelineOptions{});
  ASSERT_EQ(stages.size(), 1u);
  const auto saved = RecipeDocument::parse_file(stages[0].run / "recipe.toml", "recipe.toml");
  EXPECT_EQ(saved.root().at_path("train.batch").value<std::int64_t>(), 4);  // the whole effective batch fits
  EXPECT_EQ(saved.root().at_path("train.accum").value<std::int64_t>(), 1);
  EXPECT_EQ(saved.root().at_path("train.auto_batch").value<bool>(), false);
}

}  // namespace
}  // namespace rtseg::framework::train
