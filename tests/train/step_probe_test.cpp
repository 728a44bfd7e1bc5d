#include "rtseg/framework/train/step_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/recipe.h"
#include "test_support.h"
#include "train/train_test_support.h"

namespace rtseg::framework::train {
namespace {

using ::testing::ElementsAre;

class StepProbe : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }

  Stage stage(const std::string& extra = "") {
    stages_ = expand_stages(rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir_.path(), extra, /*masks=*/true)));
    return stages_.back();
  }

  rtseg::testing::TempDir dir_;
  std::unique_ptr<Runtime> runtime_ = rtseg::testing::make_test_runtime();
  std::vector<Stage> stages_;
};

TEST_F(StepProbe, TimesRealStepsAndReportsThePeakOfEachPhase) {
  const Stage tiny = stage();
  const CheckedRecipe recipe = check_recipe(tiny.document, runtime_->registry());
  ProbeSettings settings;
  settings.batch = 2;
  settings.warmup_steps = 1;
  settings.timed_steps = 2;
  const ProbeResult result = probe_train_step(runtime_->registry(), tiny, recipe, torch::kCPU, settings);
  EXPECT_EQ(result.batch, 2);
  EXPECT_EQ(result.resolution, 64);
  EXPECT_EQ(result.amp, "off");
  EXPECT_GT(result.step_ms, 0);
  EXPECT_NEAR(result.images_per_second, 2000.0 / result.step_ms, 1e-9);
  EXPECT_GT(result.parameter_groups, 1);
  std::vector<std::string> phases;
  for (const auto& [phase, peak] : result.phases) {
    phases.push_back(phase);
    EXPECT_GT(peak.allocated, 0) << phase;
    EXPECT_LE(peak.allocated, result.peak.allocated) << phase;
  }
  EXPECT_THAT(phases, ElementsAre("forward", "loss", "backward", "optimizer"));
}

TEST_F(StepProbe, AFrozenDetectorLeavesOnlyTheHeadTrainable) {
  const Stage full = stage();
  const CheckedRecipe full_recipe = check_recipe(full.document, runtime_->registry());
  ProbeSettings settings;
  settings.warmup_steps = 0;
  settings.timed_steps = 1;
  settings.resolution = 32;
  const ProbeResult all = probe_train_step(runtime_->registry(), full, full_recipe, torch::kCPU, settings);

  const Stage head = stage("[[stage]]\nname = \"head\"\nfreeze = [\"backbone\", \"decoder\"]\n");
  const CheckedRecipe head_recipe = check_recipe(head.document, runtime_->registry());
  const ProbeResult frozen = probe_train_step(runtime_->registry(), head, head_recipe, torch::kCPU, settings);
  EXPECT_EQ(frozen.resolution, 32);
  EXPECT_GT(frozen.trainable_parameters, 0);
  EXPECT_LT(frozen.trainable_parameters, all.trainable_parameters / 4);
}

TEST(DeviceMemory, CpuPeakFollowsTheResidentSetAndResets) {
  const c10::Device cpu(c10::kCPU);
  reset_peak_memory(cpu);
  const std::int64_t before = peak_memory(cpu).allocated;
  ASSERT_GT(before, 0);
  {
    torch::Tensor big = torch::ones({64, 1024, 1024});  // 256 MiB, touched
    EXPECT_GE(peak_memory(cpu).allocated, before + (200 << 20));
  }
  const std::int64_t high = peak_memory(cpu).allocated;
  reset_peak_memory(cpu);
  EXPECT_LT(peak_memory(cpu).allocated, high - (100 << 20));
  EXPECT_GT(current_memory(cpu), 0);
}

}  // namespace
}  // namespace rtseg::framework::train
