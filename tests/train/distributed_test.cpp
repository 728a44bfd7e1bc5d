// Data parallelism on c10d (Gloo over loopback), with real processes: the test program starts
// copies of itself as ranks (Distributed.Rank runs only inside them; see two_ranks.h). This file:
// what two ranks compute equals what one process computes. A rank that fails:
// distributed_failure_test.cpp; launchers' environments: distributed_launch_test.cpp.
#include "rtseg/framework/distributed/process_group.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/train_test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

using rtseg::testing::kWorld;
using rtseg::testing::read_values;
using rtseg::testing::run_two_ranks;
using rtseg::testing::write_values;

constexpr double kLearningRate = 0.1;

// The same two samples everywhere; rank r trains on sample r.
std::pair<torch::Tensor, torch::Tensor> global_batch() {
  torch::manual_seed(123);
  return {torch::randn({kWorld, 4}), torch::randn({kWorld, 3})};
}

// One SGD step of a linear model on `x, y` (mean squared error), gradients averaged over the
// group when one is given.
void sgd_step(torch::nn::Linear& model, const torch::Tensor& x, const torch::Tensor& y, ProcessGroup* group) {
  torch::mse_loss(model->forward(x), y).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad());
  if (group) group->average(grads, /*bucket_bytes=*/16);  // tiny buckets: several collectives
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.sub_(p.grad() * kLearningRate);
}

std::vector<double> flat_values(torch::nn::Linear& model) {
  std::vector<double> values;
  for (const auto& p : model->parameters()) {
    const torch::Tensor flat = p.detach().reshape({-1}).to(torch::kDouble);
    values.insert(values.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  }
  return values;
}

// A tiny detector run: 3 steps of `batch` x `accum` images per process, no EMA, fixed seed. (A
// detector: the mask losses' random points would differ between one process and two.)
LoadedRecipe small_run(const std::filesystem::path& runs, std::int64_t batch, std::int64_t accum = 1) {
  LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(runs, "", false));
  apply_overrides(recipe.document, {{"train.batch", std::to_string(batch), ""},
                                    {"train.accum", std::to_string(accum), ""},
                                    {"train.ema", "false", ""}, {"train.epochs", "1", ""},
                                    {"train.max_steps", "3", ""}, {"train.tensorboard", "false", ""}});
  return recipe;
}

// The body of one rank (a child process); skipped in a normal test run.
TEST(Distributed, Rank) {
  const char* role = std::getenv("RTSEG_TEST_DIST_ROLE");
  if (!role) GTEST_SKIP() << "runs only as a rank started by the other Distributed tests";
  const auto found = rtseg::testing::rank_roles().find(role);
  ASSERT_NE(found, rtseg::testing::rank_roles().end()) << "no rank role " << role;
  torch::set_num_threads(1);
  ProcessGroup group(world_from_environment(), found->second.timeout);
  found->second.body(group, std::getenv("RTSEG_TEST_DIST_OUT"));
}

const rtseg::testing::RankRoleRegistration kStep("step", {[](ProcessGroup& group, const std::filesystem::path& out) {
  torch::manual_seed(group.rank());  // different initial weights on purpose: broadcast fixes them
  torch::nn::Linear model(4, 3);
  group.broadcast(model->parameters());
  const auto [x, y] = global_batch();
  sgd_step(model, x.narrow(0, group.rank(), 1), y.narrow(0, group.rank(), 1), &group);
  write_values(out / ("rank" + std::to_string(group.rank()) + ".txt"), flat_values(model));
}});

// The trainer end to end: this process is one rank of a data-parallel run.
void train_as_rank(ProcessGroup& group, const LoadedRecipe& recipe) {
  auto runtime = rtseg::testing::make_test_runtime();
  train::PipelineOptions options;
  options.process_group = &group;
  torch::manual_seed(1000 + group.rank());  // different initial weights: the trainer broadcasts rank 0's
  train::run_pipeline(*runtime, recipe, options);
}

const rtseg::testing::RankRoleRegistration kTrain("train", {[](ProcessGroup& group, const std::filesystem::path& out) {
  train_as_rank(group, small_run(out / "runs", 1));
}});
const rtseg::testing::RankRoleRegistration kTrainAccum(
    "train_accum", {[](ProcessGroup& group, const std::filesystem::path& out) {
      train_as_rank(group, small_run(out / "runs", 1, 2));
    }});

// --batch auto on two ranks: each plans on its own device at the same time (a longer timeout)
// and all take the smallest batch, ProcessGroup::minimum (checked first with known values).
const rtseg::testing::RankRoleRegistration kAutoBatch(
    "auto_batch", {[](ProcessGroup& group, const std::filesystem::path& out) {
                     write_values(out / ("minimum" + std::to_string(group.rank()) + ".txt"),
                                  {static_cast<double>(group.minimum(7 - 3 * group.rank()))});
                     LoadedRecipe recipe = small_run(out / "runs", 2, 2);
                     apply_overrides(recipe.document, {{"train.auto_batch", "true", ""},
                                                       {"train.memory_budget", "\"64GiB\"", ""},
                                                       {"train.max_steps", "1", ""}});
                     train_as_rank(group, recipe);
                   },
                   std::chrono::seconds(120)});

TEST(Distributed, TwoRanksWithOneSampleEachEqualOneRankWithBoth) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(run_two_ranks("step", dir.path()), ::testing::ElementsAre(0, 0));
  const auto rank0 = read_values(dir.path() / "rank0.txt");
  const auto rank1 = read_values(dir.path() / "rank1.txt");
  ASSERT_EQ(rank0.size(), 15u);  // 4 x 3 weights + 3 biases
  EXPECT_EQ(rank0, rank1);       // bit for bit: same start (broadcast), same averaged gradients

  // One process, rank 0's initial weights, the whole batch of two.
  torch::manual_seed(0);
  torch::nn::Linear model(4, 3);
  const auto [x, y] = global_batch();
  sgd_step(model, x, y, nullptr);
  const auto single = flat_values(model);
  ASSERT_EQ(single.size(), rank0.size());
  for (std::size_t i = 0; i < single.size(); ++i) EXPECT_NEAR(rank0[i], single[i], 1e-6) << "value " << i;
}

// The largest difference between the weights two ranks trained (`role`) and those one process
// trained with `single`.
double trained_difference(const std::string& role, const LoadedRecipe& single_recipe,
                          const std::filesystem::path& dir) {
  EXPECT_THAT(run_two_ranks(role, dir, std::chrono::seconds(180)), ::testing::ElementsAre(0, 0));
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "runs")) folders.push_back(entry.path());
  EXPECT_EQ(folders.size(), 1u) << "rank 0 alone makes the run folder";
  const auto together = sdk::SafetensorsFile::open(folders.at(0) / "weights" / "last.safetensors");

  torch::set_num_threads(1);
  auto runtime = rtseg::testing::make_test_runtime();
  torch::manual_seed(1000);  // rank 0's initial weights
  const auto single_runs = train::run_pipeline(*runtime, single_recipe, train::PipelineOptions{});
  const auto alone = sdk::SafetensorsFile::open(single_runs.at(0).run / "weights" / "last.safetensors");
  double worst = 0;
  for (const auto& name : alone.names()) {
    worst = std::max(worst, (together.get(name) - alone.get(name)).abs().max().item<double>());
  }
  return worst;
}

// The trainer on two ranks with batch 1 each gives the update of one process with batch 2: the
// same images per step (interleaved shards), gradients averaged (overlapping backward), the box
// normaliser all-reduced.
TEST(Distributed, TrainingOnTwoRanksEqualsOneProcessWithTheWholeBatch) {
  rtseg::testing::TempDir dir;
  const double worst = trained_difference("train", small_run(dir.path() / "single", 2), dir.path());
  // Summation order differs (two half-batch gradients averaged vs one batch); after 3 AdamW
  // steps at lr 1e-3 that stays far below the update size.
  EXPECT_LT(worst, 1e-4);
  std::cout << "[distributed] 2 ranks x batch 1 vs 1 x batch 2, largest weight difference " << worst << "\n";
}

// Gradient accumulation: only the last micro-batch communicates, and the accumulated sum is
// averaged: 2 ranks x batch 1 x accum 2 == 1 process x batch 2 x accum 2.
TEST(Distributed, AccumulatingOnTwoRanksEqualsOneProcessWithTheWholeMicroBatches) {
  rtseg::testing::TempDir dir;
  const double worst = trained_difference("train_accum", small_run(dir.path() / "single", 2, 2), dir.path());
  EXPECT_LT(worst, 1e-4);
  std::cout << "[distributed] 2 ranks x batch 1 x accum 2 vs 1 x batch 2 x accum 2, largest weight difference "
            << worst << "\n";
}

TEST(Distributed, BatchAutoWorksOnSeveralRanks) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(run_two_ranks("auto_batch", dir.path(), std::chrono::seconds(240)), ::testing::ElementsAre(0, 0));
  EXPECT_THAT(read_values(dir.path() / "minimum0.txt"), ::testing::ElementsAre(4.0));
  EXPECT_THAT(read_values(dir.path() / "minimum1.txt"), ::testing::ElementsAre(4.0));
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "runs")) folders.push_back(entry.path());
  ASSERT_EQ(folders.size(), 1u);
  const auto saved = RecipeDocument::parse_file(folders[0] / "recipe.toml", "recipe.toml");
  EXPECT_EQ(saved.root().at_path("train.batch").value<std::int64_t>(), 4);  // the whole effective batch fits
  EXPECT_EQ(saved.root().at_path("train.accum").value<std::int64_t>(), 1);
  EXPECT_EQ(saved.root().at_path("train.auto_batch").value<bool>(), false);
}
}  // namespace
}  // namespace rtseg::framework::distributed
