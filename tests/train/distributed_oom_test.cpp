// Out of memory on one rank of a data-parallel run (two real processes, Gloo over loopback; see
// two_ranks.h): rank 1's allocator fails once in step 1's forward pass (oom_injection.h), rank 0
// runs out of nothing. Neither may hang: both must drop the step and then retry it with half the
// batch, or both stop with the advice.
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/gradient_reducer.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/train/trainer.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/oom_injection.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

using ::testing::HasSubstr;

// Trains the OOM setup as this rank; writes "<steps> <parameter checksum>" or "error: <text>"
// to out/rank<r>.txt.
void train_with_fault_on_rank1(ProcessGroup& group, const std::filesystem::path& out, const std::string& on_oom) {
  torch::set_num_threads(1);
  auto runtime = rtseg::testing::make_test_runtime();
  std::optional<rtseg::testing::FailingAllocatorScope> failing;
  if (group.rank() == 1) failing.emplace();
  auto scheduler = std::make_shared<rtseg::testing::ArmingScheduler>(failing ? &failing->allocator() : nullptr, 1);
  auto logger = std::make_shared<spdlog::logger>("oom", std::make_shared<spdlog::sinks::null_sink_mt>());
  // Rank 0 writes the run folder; rank 1 writes its own (the trainer only needs it on rank 0).
  train::TrainerSetup setup = rtseg::testing::oom_trainer_setup(
      *runtime, out / ("rank" + std::to_string(group.rank())), on_oom, scheduler, logger);
  setup.process_group = &group;
  std::ofstream report(out / ("rank" + std::to_string(group.rank()) + ".txt"));
  report.precision(17);
  try {
    const train::TrainOutcome outcome = train::train(setup);
    double checksum = 0;
    for (const auto& p : setup.model->parameters()) checksum += p.detach().to(torch::kDouble).sum().item<double>();
    report << outcome.steps << " " << checksum << " " << (failing ? failing->allocator().faults() : 0) << "\n";
  } catch (const std::exception& error) {
    report << "error: " << error.what() << "\n";
  }
}

// Rank 1 runs out of memory in step 1's optimizer update, after the ranks agreed on the step:
// the first allocation over the threshold once the step's last collective (the vote) started.
// A step starts 1 (object counts) + one per gradient bucket + 1 (the vote) collectives.
void train_with_fault_in_rank1s_update(ProcessGroup& group, const std::filesystem::path& out) {
  torch::set_num_threads(1);
  auto runtime = rtseg::testing::make_test_runtime();
  std::optional<rtseg::testing::FailingAllocatorScope> failing;
  if (group.rank() == 1) failing.emplace();
  auto logger = std::make_shared<spdlog::logger>("oom", std::make_shared<spdlog::sinks::null_sink_mt>());
  train::TrainerSetup setup =
      rtseg::testing::oom_trainer_setup(*runtime, out / ("rank" + std::to_string(group.rank())), "retry",
                                        std::make_shared<rtseg::testing::ArmingScheduler>(nullptr, 1), logger);
  setup.process_group = &group;
  const std::int64_t buckets = GradientReducer(setup.model->parameters(), group).bucket_count();
  const auto after_the_vote = [&group, buckets] {
    const std::int64_t vote = group.collectives_started() + 1 + buckets + 1;
    return std::function<bool()>([&group, vote] { return group.collectives_started() >= vote; });
  };
  setup.scheduler = std::make_shared<rtseg::testing::ArmingScheduler>(failing ? &failing->allocator() : nullptr, 1,
                                                                      after_the_vote);
  std::ofstream report(out / ("rank" + std::to_string(group.rank()) + ".txt"));
  try {
    const train::TrainOutcome outcome = train::train(setup);
    report << "trained " << outcome.steps << " steps\n";
  } catch (const std::exception& error) {
    report << "error: " << error.what() << "\n";
  }
  if (failing) report << "faults: " << failing->allocator().faults() << "\n";
}

const rtseg::testing::RankRoleRegistration kOomInUpdate("oom_in_update", {train_with_fault_in_rank1s_update,
                                                                          std::chrono::seconds(60)});
const rtseg::testing::RankRoleRegistration kOomRetry(
    "oom_retry", {[](ProcessGroup& group, const std::filesystem::path& out) {
                    train_with_fault_on_rank1(group, out, "retry");
                  },
                  std::chrono::seconds(60)});
const rtseg::testing::RankRoleRegistration kOomStop(
    "oom_stop", {[](ProcessGroup& group, const std::filesystem::path& out) {
                   train_with_fault_on_rank1(group, out, "stop");
                 },
                 std::chrono::seconds(60)});

using rtseg::testing::read_text;

TEST(Distributed, OutOfMemoryOnOneRankIsRetriedByAllWithHalfTheBatch) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(rtseg::testing::run_two_ranks("oom_retry", dir.path(), std::chrono::seconds(180)),
              ::testing::ElementsAre(0, 0));
  std::istringstream rank0(read_text(dir.path() / "rank0.txt"));
  std::istringstream rank1(read_text(dir.path() / "rank1.txt"));
  std::int64_t steps0 = 0, steps1 = 0;
  double checksum0 = 0, checksum1 = 0;
  int faults0 = -1, faults1 = -1;
  ASSERT_TRUE(rank0 >> steps0 >> checksum0 >> faults0) << read_text(dir.path() / "rank0.txt");
  ASSERT_TRUE(rank1 >> steps1 >> checksum1 >> faults1) << read_text(dir.path() / "rank1.txt");
  EXPECT_EQ(faults0, 0);
  EXPECT_EQ(faults1, 1);  // the fault happened, on rank 1 only
  // 8 images over 2 ranks at batch 4: 5 steps (the small-dataset rule); step 1 retried at batch
  // 2 x accum 2 on both ranks, and every step done.
  EXPECT_EQ(steps0, 5);
  EXPECT_EQ(steps1, 5);
  EXPECT_EQ(checksum0, checksum1);  // the same updates on both ranks, bit for bit
  const auto saved = RecipeDocument::parse_file(dir.path() / "rank0" / "runs" / "train_test_64_1" / "recipe.toml",
                                                "recipe.toml");
  EXPECT_EQ(saved.root().at_path("train.batch").value<std::int64_t>(), 2);
  EXPECT_EQ(saved.root().at_path("train.accum").value<std::int64_t>(), 2);
}

TEST(Distributed, OutOfMemoryOnOneRankStopsAllRanksWithTheAdvice) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(rtseg::testing::run_two_ranks("oom_stop", dir.path(), std::chrono::seconds(180)),
              ::testing::ElementsAre(0, 0));
  // Rank 0 had memory enough, yet it stops with the same advice instead of waiting for rank 1.
  EXPECT_THAT(read_text(dir.path() / "rank0.txt"), HasSubstr("--batch 2 --accum 2"));
  EXPECT_THAT(read_text(dir.path() / "rank1.txt"), HasSubstr("--batch 2 --accum 2"));
}

// After the ranks' vote the others have applied the step, so --oom retry cannot repeat it on one
// rank alone: that rank stops with the advice, the other fails at its next collective, and
// neither hangs.
TEST(Distributed, OutOfMemoryInTheUpdateEndsTheRunOnEveryRank) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(rtseg::testing::run_two_ranks("oom_in_update", dir.path(), std::chrono::seconds(180)),
              ::testing::ElementsAre(0, 0));
  const std::string rank1 = read_text(dir.path() / "rank1.txt");
  EXPECT_THAT(rank1, HasSubstr("faults: 1"));
  EXPECT_THAT(rank1, HasSubstr("error: the device ran out of memory"));
  EXPECT_THAT(rank1, HasSubstr("--batch 2 --accum 2"));
  EXPECT_THAT(rank1, HasSubstr("in the optimizer update"));
  const std::string rank0 = read_text(dir.path() / "rank0.txt");
  EXPECT_THAT(rank0, ::testing::StartsWith("error: distributed training, rank 0 of 2: "));
  EXPECT_THAT(rank0, HasSubstr("Another rank most likely stopped first"));
}

}  // namespace
}  // namespace rtseg::framework::distributed
