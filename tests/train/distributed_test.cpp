// Data parallelism on c10d (Gloo over loopback), with real processes: the test program starts
// copies of itself as ranks (Distributed.Rank runs only inside them).
#include "rtseg/framework/distributed/process_group.h"

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/train_test_support.h"

extern char** environ;

namespace rtseg::framework::distributed {
namespace {

constexpr int kWorld = 2;
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

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Starts this test program as rank `rank` of a `role` run; returns its pid.
pid_t spawn_rank(int rank, int port, const std::string& role, const std::filesystem::path& out) {
  std::vector<std::string> variables;
  for (char** e = environ; *e; ++e) variables.emplace_back(*e);
  for (const std::string& v : {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(kWorld),
                               "LOCAL_RANK=" + std::to_string(rank), std::string("MASTER_ADDR=127.0.0.1"),
                               "MASTER_PORT=" + std::to_string(port), "RTSEG_TEST_DIST_ROLE=" + role,
                               "RTSEG_TEST_DIST_OUT=" + out.string()}) {
    variables.push_back(v);
  }
  std::vector<char*> envp;
  for (std::string& v : variables) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string program = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=Distributed.Rank";
  char* argv[] = {program.data(), filter.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  return pid;
}

// Exit code of `pid`, or -1 when it is still running after `limit` (then it is killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// A tiny detector run: 3 steps of `batch` images per process, no EMA, fixed seed. (A detector:
// the mask losses' random points would differ between one process and two.)
LoadedRecipe small_run(const std::filesystem::path& runs, std::int64_t batch) {
  LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(runs, "", false));
  apply_overrides(recipe.document, {{"train.batch", std::to_string(batch), ""}, {"train.accum", "1", ""},
                                    {"train.ema", "false", ""}, {"train.epochs", "1", ""},
                                    {"train.max_steps", "3", ""}, {"train.tensorboard", "false", ""}});
  return recipe;
}

// Runs a `role` with two ranks and returns their exit codes (-1: still running after `limit`).
std::vector<int> run_two_ranks(const std::string& role, const std::filesystem::path& out,
                               std::chrono::seconds limit = std::chrono::seconds(60)) {
  const int port = free_port();
  const pid_t first = spawn_rank(0, port, role, out);
  const pid_t second = spawn_rank(1, port, role, out);
  const int second_code = wait_for(second, limit);
  return {wait_for(first, limit), second_code};
}

// The body of one rank (a child process); skipped in a normal test run.
TEST(Distributed, Rank) {
  const char* role = std::getenv("RTSEG_TEST_DIST_ROLE");
  if (!role) GTEST_SKIP() << "runs only as a rank started by the other Distributed tests";
  torch::set_num_threads(1);
  const std::filesystem::path out = std::getenv("RTSEG_TEST_DIST_OUT");
  const WorldInfo world = world_from_environment();
  ProcessGroup group(world, std::chrono::seconds(5));
  if (std::string(role) == "die") {
    if (world.rank == 1) std::_Exit(0);  // gone without a word
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    try {
      torch::Tensor value = torch::ones({8});
      group.average({value});
      std::ofstream(out / "rank0.txt") << "no error\n";
    } catch (const std::exception& error) {
      std::ofstream(out / "rank0.txt") << "error: " << error.what() << "\n";
      std::_Exit(3);
    }
    return;
  }
  if (std::string(role) == "train") {
    // The trainer end to end: this process is one rank of a data-parallel run.
    auto runtime = rtseg::testing::make_test_runtime();
    train::PipelineOptions options;
    options.process_group = &group;
    torch::manual_seed(1000 + world.rank);  // different initial weights: the trainer broadcasts rank 0's
    train::run_pipeline(*runtime, small_run(out / "runs", 1), options);
    return;
  }
  torch::manual_seed(world.rank);  // different initial weights on purpose: broadcast fixes them
  torch::nn::Linear model(4, 3);
  group.broadcast(model->parameters());
  const auto [x, y] = global_batch();
  sgd_step(model, x.narrow(0, world.rank, 1), y.narrow(0, world.rank, 1), &group);
  std::ofstream file(out / ("rank" + std::to_string(world.rank) + ".txt"));
  file.precision(17);
  for (const double v : flat_values(model)) file << v << "\n";
}

std::vector<double> read_values(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  return values;
}

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

// The trainer on two ranks with batch 1 each gives the update of one process with batch 2: the
// same images per step (interleaved shards), gradients averaged, the box normaliser all-reduced.
TEST(Distributed, TrainingOnTwoRanksEqualsOneProcessWithTheWholeBatch) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(run_two_ranks("train", dir.path(), std::chrono::seconds(120)), ::testing::ElementsAre(0, 0));
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "runs")) folders.push_back(entry.path());
  ASSERT_EQ(folders.size(), 1u) << "rank 0 alone makes the run folder";
  const auto together = sdk::SafetensorsFile::open(folders[0] / "weights" / "last.safetensors");

  torch::set_num_threads(1);
  auto runtime = rtseg::testing::make_test_runtime();
  torch::manual_seed(1000);  // rank 0's initial weights
  const auto single_runs = train::run_pipeline(*runtime, small_run(dir.path() / "single", 2), train::PipelineOptions{});
  const auto alone = sdk::SafetensorsFile::open(single_runs.at(0).run / "weights" / "last.safetensors");
  double worst = 0;
  for (const auto& name : alone.names()) {
    worst = std::max(worst, (together.get(name) - alone.get(name)).abs().max().item<double>());
  }
  // Summation order differs (two half-batch gradients averaged vs one batch); after 3 AdamW
  // steps at lr 1e-3 that stays far below the update size.
  EXPECT_LT(worst, 1e-4);
  std::cout << "[distributed] 2 ranks x batch 1 vs 1 x batch 2, largest weight difference " << worst << "\n";
}

TEST(Distributed, ARankThatDiesMakesTheOthersFailInsteadOfHanging) {
  rtseg::testing::TempDir dir;
  // Rank 1 leaves at once (code 0); rank 0 must fail (code 3), not hang (-1) or succeed.
  EXPECT_THAT(run_two_ranks("die", dir.path()), ::testing::ElementsAre(3, 0));
  std::ifstream in(dir.path() / "rank0.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, ::testing::StartsWith("error: "));
}

TEST(Distributed, TheEnvironmentOfTorchrunAndSlurmIsRead) {
  ::unsetenv("WORLD_SIZE");
  ::setenv("SLURM_NTASKS", "4", 1);
  ::setenv("SLURM_PROCID", "2", 1);
  ::setenv("SLURM_LOCALID", "0", 1);
  WorldInfo world = world_from_environment();
  EXPECT_EQ(world.world_size, 4);
  EXPECT_EQ(world.rank, 2);
  ::setenv("SLURM_PROCID", "7", 1);
  EXPECT_THAT([] { world_from_environment(); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("SLURM_PROCID=7 is outside the world of 4")));
  ::unsetenv("SLURM_NTASKS");
  ::unsetenv("SLURM_PROCID");
  ::unsetenv("SLURM_LOCALID");
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "http", 1);
  EXPECT_THAT([] { world_from_environment(); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::HasSubstr("MASTER_PORT=\"http\": expected a whole number")));
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("RANK");
  ::unsetenv("MASTER_PORT");
  EXPECT_FALSE(world_from_environment().distributed());
}

}  // namespace
}  // namespace rtseg::framework::distributed
