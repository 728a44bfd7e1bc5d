// Out of memory during training (one process), injected (see oom_injection.h).
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "rtseg/framework/train/trainer.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/oom_injection.h"

namespace rtseg::framework::train {
namespace {

using ::testing::HasSubstr;

class OomRetry : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }

  TrainerSetup setup(const std::string& on_oom) {
    return rtseg::testing::oom_trainer_setup(
        *runtime_, dir_.path(), on_oom, std::make_shared<rtseg::testing::ArmingScheduler>(&failing_.allocator(), 1),
        std::make_shared<spdlog::logger>("oom", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }

  rtseg::testing::TempDir dir_;
  std::unique_ptr<Runtime> runtime_ = rtseg::testing::make_test_runtime();
  rtseg::testing::FailingAllocatorScope failing_;
};

TEST_F(OomRetry, HalvesTheBatchDoublesAccumAndFinishesEveryStep) {
  TrainerSetup s = setup("retry");
  const TrainOutcome outcome = train(s);
  EXPECT_EQ(failing_.allocator().faults(), 1);
  // 8 training images, repeated to 5 steps per epoch (RF-DETR's small-dataset rule) at batch 4;
  // step 1 is retried at batch 2 x accum 2, and the epoch still has all its 5 steps.
  EXPECT_EQ(outcome.steps, 5);
  EXPECT_TRUE(std::filesystem::is_regular_file(outcome.last_weights));
  const auto saved = RecipeDocument::parse_file(s.run.recipe(), "recipe.toml");
  EXPECT_EQ(saved.root().at_path("train.batch").value<std::int64_t>(), 2);
  EXPECT_EQ(saved.root().at_path("train.accum").value<std::int64_t>(), 2);
}

TEST_F(OomRetry, WithoutRetryTheRunStopsWithTheSeedsLadder) {
  TrainerSetup s = setup("stop");
  EXPECT_THAT([&] { train(s); }, ::testing::ThrowsMessage<sdk::Error>(HasSubstr("--batch 2 --accum 2")));
  EXPECT_EQ(failing_.allocator().faults(), 1);
}

}  // namespace
}  // namespace rtseg::framework::train
