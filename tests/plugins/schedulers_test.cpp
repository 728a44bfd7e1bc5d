// Curves of the scheduler plugin, against formulas computed by hand.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "constant.h"
#include "cosine.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/errors.h"
#include "step.h"

namespace rtseg::plugins::schedulers {
namespace {

using ::testing::HasSubstr;

// 10 epochs of 100 optimizer steps.
const sdk::ScheduleLength kLength{1000, 100};

WarmupOptions warmup(double epochs, std::int64_t steps, double min_factor) {
  WarmupOptions options;
  options.warmup_epochs = epochs;
  options.warmup_steps = steps;
  options.min_factor = min_factor;
  return options;
}

TEST(ConstantSchedule, RisesLinearlyDuringWarmupThenStaysAtOne) {
  const ConstantSchedule schedule(warmup(0.5, 0, 0.0));  // 50 steps
  EXPECT_EQ(schedule.warmup_steps(kLength), 50);
  EXPECT_DOUBLE_EQ(schedule.factor(0, kLength), 0.0);
  EXPECT_DOUBLE_EQ(schedule.factor(10, kLength), 0.2);
  EXPECT_DOUBLE_EQ(schedule.factor(49, kLength), 0.98);
  EXPECT_DOUBLE_EQ(schedule.factor(50, kLength), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(999, kLength), 1.0);
}

TEST(ConstantSchedule, NoWarmupMeansOneFromTheStart) {
  const ConstantSchedule schedule(warmup(0, 0, 0));
  EXPECT_DOUBLE_EQ(schedule.factor(0, kLength), 1.0);
}

TEST(ConstantSchedule, WarmupStartsAtTheMinimumFactor) {
  const ConstantSchedule schedule(warmup(0, 20, 0.1));
  EXPECT_DOUBLE_EQ(schedule.factor(0, kLength), 0.1);
  EXPECT_DOUBLE_EQ(schedule.factor(10, kLength), 0.1 + 0.9 * 0.5);
  EXPECT_DOUBLE_EQ(schedule.factor(20, kLength), 1.0);
}

TEST(StepSchedule, MultipliesByGammaAtEachDropEpoch) {
  StepOptions options;
  options.drop_epochs = {6, 3};  // order does not matter
  options.gamma = 0.5;
  const StepSchedule schedule(options);
  EXPECT_DOUBLE_EQ(schedule.factor(0, kLength), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(299, kLength), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(300, kLength), 0.5);
  EXPECT_DOUBLE_EQ(schedule.factor(599, kLength), 0.5);
  EXPECT_DOUBLE_EQ(schedule.factor(600, kLength), 0.25);
}

TEST(StepSchedule, RfDetrDefaultIsConstantOverAHundredEpochs) {
  const StepSchedule schedule(StepOptions{});  // drop at epoch 100, gamma 0.1
  const sdk::ScheduleLength hundred_epochs{100 * 50, 50};
  EXPECT_DOUBLE_EQ(schedule.factor(100 * 50 - 1, hundred_epochs), 1.0);
}

TEST(StepSchedule, NeverBelowTheMinimumFactor) {
  StepOptions options;
  options.warmup.min_factor = 0.05;
  options.drop_epochs = {1, 2};
  options.gamma = 0.1;
  const StepSchedule schedule(options);
  EXPECT_DOUBLE_EQ(schedule.factor(150, kLength), 0.1);
  EXPECT_DOUBLE_EQ(schedule.factor(250, kLength), 0.05);  // 0.01 floored
}

TEST(CosineSchedule, HalfCosineFromOneToTheMinimumAfterWarmup) {
  const CosineSchedule schedule(warmup(0, 100, 0.1));
  EXPECT_DOUBLE_EQ(schedule.factor(50, kLength), 0.1 + 0.9 * 0.5);       // still warming up
  EXPECT_DOUBLE_EQ(schedule.factor(100, kLength), 1.0);                  // decay starts
  EXPECT_NEAR(schedule.factor(550, kLength), 0.1 + 0.9 * 0.5, 1e-12);    // halfway: cos = 0
  const double quarter = 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25));
  EXPECT_NEAR(schedule.factor(325, kLength), quarter, 1e-12);
  EXPECT_NEAR(schedule.factor(1000, kLength), 0.1, 1e-12);                // the end
  EXPECT_NEAR(schedule.factor(5000, kLength), 0.1, 1e-12);                // past the end
}

TEST(CosineSchedule, IsMonotonicAfterWarmup) {
  const CosineSchedule schedule(warmup(1, 0, 0));
  double previous = 1.0;
  for (std::int64_t step = 100; step <= 1000; ++step) {
    const double value = schedule.factor(step, kLength);
    EXPECT_LE(value, previous + 1e-15);
    previous = value;
  }
}

sdk::ConfigReader reader_over(const framework::RecipeDocument& document) {
  return sdk::ConfigReader(&document.root(), "train.scheduler", "", document.origin_lookup());
}

TEST(SchedulerOptions, AreValidated) {
  const auto both = framework::RecipeDocument::parse_text("warmup_steps = 5\nwarmup_epochs = 1.0\n", "s.toml");
  sdk::ConfigReader reader = reader_over(both);
  try {
    cosine_options_from(reader);
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("set warmup_steps or warmup_epochs, not both"));
  }
  const auto bad_gamma = framework::RecipeDocument::parse_text("gamma = 2.0\n", "s.toml");
  sdk::ConfigReader gamma_reader = reader_over(bad_gamma);
  EXPECT_THROW(step_options_from(gamma_reader), sdk::ConfigError);
}

}  // namespace
}  // namespace rtseg::plugins::schedulers
