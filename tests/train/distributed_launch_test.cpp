// What torchrun, SLURM and the network give a rank: the environment it reads, the backend and
// GPU it takes, where Gloo binds, and torchrun's agent store (two real processes where it takes
// a rendezvous; see two_ranks.h).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

using rtseg::testing::read_values;
using rtseg::testing::run_two_ranks;

// What rank 0 shares through the store, as every rank received it.
const rtseg::testing::RankRoleRegistration kShare("share", {[](ProcessGroup& group, const std::filesystem::path& out) {
  const std::string value = group.share("probe", group.rank() == 0 ? "from rank 0" : "");
  group.barrier();
  std::ofstream(out / ("shared" + std::to_string(group.rank()) + ".txt")) << value;
}});

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

// GLOO_SOCKET_IFNAME reaches c10d: two ranks over the interface it names train identically (the
// "step" role of distributed_test.cpp); an interface this machine lacks fails the rendezvous,
// naming the variable.
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
