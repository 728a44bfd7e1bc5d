// Data parallelism on c10d (Gloo over loopback), with real processes: the test program starts
// copies of itself as ranks (Distributed.Rank runs only inside them; see two_ranks.h).
#include "rtseg/framework/distributed/process_group.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/run_folder.h"
#include "rtseg/sdk/errors.h"
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

const rtseg::testing::RankRoleRegistration kDie("die", {[](ProcessGroup& group, const std::filesystem::path& out) {
  if (group.rank() == 1) std::_Exit(0);  // gone without a word
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  try {
    torch::Tensor value = torch::ones({8});
    group.average({value});
    std::ofstream(out / "rank0.txt") << "no error\n";
  } catch (const std::exception& error) {
    std::ofstream(out / "rank0.txt") << "error: " << error.what() << "\n";
    std::_Exit(3);
  }
}});

// Rank 1 is alive but does not answer for longer than the group's timeout (2 s); rank 0 must fail
// within it rather than wait. Rank 1 marks when it wakes, so rank 0 can tell it did not wait.
const rtseg::testing::RankRoleRegistration kHang(
    "hang", {[](ProcessGroup& group, const std::filesystem::path& out) {
               if (group.rank() == 1) {
                 std::this_thread::sleep_for(std::chrono::seconds(6));
                 std::ofstream(out / "rank1_awake.txt") << "awake\n";
                 std::_Exit(0);
               }
               try {
                 torch::Tensor value = torch::ones({8});
                 group.sum(value);
                 std::ofstream(out / "rank0.txt") << "no error\n";
               } catch (const std::exception& error) {
                 const bool waited = std::filesystem::exists(out / "rank1_awake.txt");
                 std::ofstream(out / "rank0.txt") << (waited ? "waited; " : "") << "error: " << error.what() << "\n";
               }
             },
             std::chrono::seconds(2)});

// What rank 0 shares through the store, as every rank received it.
const rtseg::testing::RankRoleRegistration kShare("share", {[](ProcessGroup& group, const std::filesystem::path& out) {
  const std::string value = group.share("probe", group.rank() == 0 ? "from rank 0" : "");
  group.barrier();
  std::ofstream(out / ("shared" + std::to_string(group.rank()) + ".txt")) << value;
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

TEST(Distributed, ARankThatDiesMakesTheOthersFailInsteadOfHanging) {
  rtseg::testing::TempDir dir;
  // Rank 1 leaves at once (code 0); rank 0 must fail (code 3), not hang (-1) or succeed.
  EXPECT_THAT(run_two_ranks("die", dir.path()), ::testing::ElementsAre(3, 0));
  std::ifstream in(dir.path() / "rank0.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Named as what it is (the backend's own text only says a connection closed).
  EXPECT_THAT(text, ::testing::StartsWith("error: distributed training, rank 0 of 2: "));
  EXPECT_THAT(text, ::testing::HasSubstr("with the other ranks failed"));
}

TEST(Distributed, ARankThatStopsAnsweringMakesTheOthersFailAfterTheTimeout) {
  rtseg::testing::TempDir dir;
  EXPECT_THAT(run_two_ranks("hang", dir.path()), ::testing::ElementsAre(0, 0));
  const std::string text = rtseg::testing::read_text(dir.path() / "rank0.txt");
  EXPECT_THAT(text, ::testing::StartsWith("error: distributed training, rank 0 of 2: an all-reduce"));
  EXPECT_THAT(text, ::testing::HasSubstr("train.dist_timeout"));
}

// Ranks on other machines see rank 0's run folder through a shared filesystem, which may show a
// new file late: a rank looks again for a while, then says what the run needs.
TEST(Distributed, ARankWaitsForRank0sFolderThenSaysTheFilesystemMustBeShared) {
  rtseg::testing::TempDir dir;
  const std::filesystem::path root = dir.path() / "train_nano_384_1";
  std::thread rank0([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::filesystem::create_directories(root);
    std::ofstream(root / "recipe.toml") << "[model]\n";
  });
  EXPECT_EQ(train::RunFolder::open_from_rank0(root, 1, std::chrono::seconds(20)).root(), root);
  rank0.join();
  EXPECT_THAT([&] { train::RunFolder::open_from_rank0(dir.path() / "elsewhere", 3, std::chrono::milliseconds(300)); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::AllOf(
                  ::testing::HasSubstr("rank 3 cannot see the run folder rank 0 created"),
                  ::testing::HasSubstr("must be on a filesystem every machine mounts at the same path"))));
}

// The backend a setting resolves to, or the error text it gives, on builds with and without
// NCCL (every path on every build), and this build's own answer.
TEST(Distributed, TheBackendFollowsTheDeviceAndErrorsSayWhatToDo) {
  const torch::Device cpu(torch::kCPU), cuda(torch::kCUDA, 0);
  using ::testing::AllOf;
  using ::testing::HasSubstr;
  using ::testing::ThrowsMessage;
  for (const bool has_nccl : {false, true}) {
    SCOPED_TRACE(has_nccl ? "build with NCCL" : "build without NCCL");
    EXPECT_EQ(choose_backend("gloo", cpu, has_nccl), Backend::kGloo);
    EXPECT_EQ(choose_backend("gloo", cuda, has_nccl), Backend::kGloo);
    EXPECT_EQ(choose_backend("auto", cpu, has_nccl), Backend::kGloo);
    // auto never asks for what the build lacks
    EXPECT_EQ(choose_backend("auto", cuda, has_nccl), has_nccl ? Backend::kNccl : Backend::kGloo);
    EXPECT_THAT([&] { choose_backend("mpi", cpu, has_nccl); },
                ThrowsMessage<sdk::ConfigError>(HasSubstr("train.dist_backend = \"mpi\": expected auto, gloo or nccl")));
  }
  EXPECT_EQ(choose_backend("nccl", cuda, true), Backend::kNccl);
  EXPECT_THAT([&] { choose_backend("nccl", cpu, true); },
              ThrowsMessage<sdk::ConfigError>(AllOf(HasSubstr("carries CUDA tensors only, but train.device is cpu"),
                                                    HasSubstr("use train.dist_backend = \"gloo\""))));
  for (const torch::Device& device : {cpu, cuda}) {
    EXPECT_THAT([&] { choose_backend("nccl", device, false); },
                ThrowsMessage<sdk::ConfigError>(
                    AllOf(HasSubstr("train.dist_backend = \"nccl\" but this build of rtseg has no NCCL"),
                          HasSubstr("use train.dist_backend = \"gloo\" (--dist_backend gloo)"))));
  }
  // This build answers as its kind does.
  EXPECT_EQ(choose_backend("auto", cuda), choose_backend("auto", cuda, nccl_available()));
}

// Sets environment variables for one scope and restores what was there (also when an assertion
// fails), so that the tests after this one see the environment they started with.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const auto& [name, value] : values) set(name, value);
  }
  ~ScopedEnvironment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

  /// value nullptr: unset.
  void set(const char* name, const char* value) {
    const char* previous = std::getenv(name);
    saved_.emplace_back(name, previous ? std::optional<std::string>(previous) : std::nullopt);
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(Distributed, SlurmsEnvironmentIsRead) {
  ScopedEnvironment environment({{"WORLD_SIZE", nullptr}, {"RANK", nullptr}, {"SLURM_STEP_NUM_TASKS", nullptr}, {"SLURM_NTASKS", "4"},
                                 {"SLURM_PROCID", "2"}, {"SLURM_LOCALID", "0"}, {"SLURM_NTASKS_PER_NODE", "2(x2)"}});
  const WorldInfo world = world_from_environment();
  EXPECT_EQ(world.world_size, 4);
  EXPECT_EQ(world.rank, 2);
  EXPECT_EQ(world.local_world_size, 2);
  environment.set("SLURM_PROCID", "7");
  EXPECT_THAT([] { world_from_environment(); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("SLURM_PROCID=7 is outside the world of 4")));
  // srun -n 2 inside a job of 4 tasks: the step's tasks are the world.
  environment.set("SLURM_PROCID", "1");
  environment.set("SLURM_STEP_NUM_TASKS", "2");
  EXPECT_EQ(world_from_environment().world_size, 2);
}

// A multi-node SLURM job that exports nothing more: the first node is the master, the port
// follows the job; what the user exports wins.
TEST(Distributed, SlurmsJobNamesTheMasterWhenTheUserDoesNot) {
  ScopedEnvironment environment({{"WORLD_SIZE", nullptr}, {"RANK", nullptr}, {"MASTER_ADDR", nullptr},
                                 {"MASTER_PORT", nullptr}, {"SLURM_STEP_NUM_TASKS", nullptr}, {"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "5"},
                                 {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", nullptr},
                                 {"SLURM_TASKS_PER_NODE", "4(x2)"}, {"SLURM_NODELIST", nullptr}, {"SLURM_STEP_NODELIST", nullptr},
                                 {"SLURM_JOB_NODELIST", "gpu[07-08]"}, {"SLURM_JOB_ID", "1234567"}});
  WorldInfo world = world_from_environment();
  EXPECT_EQ(world.master_addr, "gpu07");
  EXPECT_EQ(world.master_port, 24567);  // 20000 + job id mod 10000
  EXPECT_EQ(world.local_world_size, 4);
  environment.set("SLURM_STEP_NODELIST", "gpu08");  // srun -w gpu08: the step's first node
  EXPECT_EQ(world_from_environment().master_addr, "gpu08");
  environment.set("SLURM_STEP_NODELIST", nullptr);
  environment.set("MASTER_ADDR", "10.0.0.5");
  environment.set("MASTER_PORT", "29400");
  environment.set("SLURM_JOB_NODELIST", "gpu[07");  // not read: MASTER_ADDR says it
  world = world_from_environment();
  EXPECT_EQ(world.master_addr, "10.0.0.5");
  EXPECT_EQ(world.master_port, 29400);
  environment.set("MASTER_ADDR", nullptr);
  EXPECT_THAT([] { world_from_environment(); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::AllOf(
                  ::testing::HasSubstr("SLURM node list \"gpu[07\": a '[' is not closed"),
                  ::testing::HasSubstr("set MASTER_ADDR"))));
}

TEST(Distributed, EachRankTrainsOnItsOwnGpu) {
  EXPECT_EQ(cuda_device_for_rank(0, 4), 0);
  EXPECT_EQ(cuda_device_for_rank(3, 4), 3);
  EXPECT_EQ(cuda_device_for_rank(3, 1), 0);  // bound by the launcher: its one visible GPU
  EXPECT_THAT([] { cuda_device_for_rank(4, 2); },
              ::testing::ThrowsMessage<sdk::ConfigError>(
                  ::testing::AllOf(::testing::HasSubstr("local rank 4 has no GPU: this process sees 2 CUDA device(s)"),
                                   ::testing::HasSubstr("CUDA_VISIBLE_DEVICES"))));
}

TEST(Distributed, TheFirstHostOfASlurmNodeList) {
  EXPECT_EQ(first_slurm_host("node1"), "node1");
  EXPECT_EQ(first_slurm_host("a,b"), "a");
  EXPECT_EQ(first_slurm_host("gpu[07-09,12],cpu1"), "gpu07");
  EXPECT_EQ(first_slurm_host("gpu[12,3-4]"), "gpu12");
  EXPECT_EQ(first_slurm_host("rack[2-3]-node[001-004]"), "rack2-node001");
  EXPECT_EQ(first_slurm_host("n[5]-ib,m1"), "n5-ib");
  EXPECT_THAT([] { first_slurm_host(",a"); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("names no host first")));
}

TEST(Distributed, GlooBindsWhereEveryRankCanReachIt) {
  using Kind = GlooNetwork::Kind;
  for (const char* local : {"localhost", "127.0.0.1", "127.0.1.1", "::1"}) {
    EXPECT_EQ(gloo_network(local, "").kind, Kind::kLoopback) << local;
  }
  // Another machine's master: this machine's own address, never the master's.
  EXPECT_EQ(gloo_network("10.1.2.3", "").kind, Kind::kHostname);
  EXPECT_EQ(gloo_network("node01", "").kind, Kind::kHostname);
  const GlooNetwork listed = gloo_network("127.0.0.1", "eth0,ib0");  // the variable wins
  EXPECT_EQ(listed.kind, Kind::kInterfaces);
  EXPECT_THAT(listed.interfaces, ::testing::ElementsAre("eth0", "ib0"));
  EXPECT_THAT([] { gloo_network("node01", "eth0,"); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("GLOO_SOCKET_IFNAME=\"eth0,\" has an empty")));
}

// GLOO_SOCKET_IFNAME reaches c10d: two ranks over the interface it names train identically; an
// interface this machine lacks fails the rendezvous, naming the variable.
TEST(Distributed, GlooSocketIfnameNamesTheInterface) {
  ScopedEnvironment environment({{"GLOO_SOCKET_IFNAME", "lo"}});
  rtseg::testing::TempDir dir;
  ASSERT_THAT(run_two_ranks("step", dir.path()), ::testing::ElementsAre(0, 0));
  const auto rank0 = read_values(dir.path() / "rank0.txt");
  ASSERT_EQ(rank0.size(), 15u);
  EXPECT_EQ(rank0, read_values(dir.path() / "rank1.txt"));

  environment.set("GLOO_SOCKET_IFNAME", "rtseg_no_if0");
  WorldInfo alone;
  alone.master_port = rtseg::testing::free_port();
  EXPECT_THAT([&] { ProcessGroup group(alone, std::chrono::seconds(5)); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::AllOf(::testing::HasSubstr("rtseg_no_if0"),
                                                                    ::testing::HasSubstr("GLOO_SOCKET_IFNAME"))));
}

// torchrun's agent serves the store on MASTER_PORT before it starts the workers; rank 0 must
// join it as a client (binding the port itself fails) and keep its keys under the attempt.
TEST(Distributed, UnderTorchrunTheRanksUseTheAgentsStore) {
  const int port = rtseg::testing::free_port();
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = true;
  options.waitWorkers = false;
  auto agent = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
  ScopedEnvironment environment({{"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"}});
  rtseg::testing::TempDir dir;
  ASSERT_THAT(run_two_ranks("share", dir.path(), std::chrono::seconds(60), port), ::testing::ElementsAre(0, 0));
  for (const char* file : {"shared0.txt", "shared1.txt"}) EXPECT_EQ(rtseg::testing::read_text(dir.path() / file), "from rank 0");
  const std::vector<std::uint8_t> stored = agent->get("/worker/attempt_2/rtseg/probe");
  EXPECT_EQ(std::string(stored.begin(), stored.end()), "from rank 0");
}

TEST(Distributed, TorchrunsEnvironmentIsRead) {
  ScopedEnvironment environment({{"SLURM_NTASKS", nullptr}, {"SLURM_PROCID", nullptr}, {"LOCAL_WORLD_SIZE", nullptr},
                                 {"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", nullptr}});
  EXPECT_EQ(world_from_environment().rank, 1);
  EXPECT_EQ(world_from_environment().local_world_size, 2);  // no LOCAL_WORLD_SIZE: all on this machine
  environment.set("MASTER_PORT", "http");
  EXPECT_THAT([] { world_from_environment(); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("MASTER_PORT=\"http\": expected a whole number")));
  environment.set("MASTER_PORT", nullptr);
  environment.set("WORLD_SIZE", nullptr);
  environment.set("RANK", nullptr);
  EXPECT_FALSE(world_from_environment().distributed());
}

}  // namespace
}  // namespace rtseg::framework::distributed
