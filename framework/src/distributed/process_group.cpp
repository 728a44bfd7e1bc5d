#include "rtseg/framework/distributed/process_group.h"

#include <cstdlib>
#include <map>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

// Adds the wall time of its scope to a counter.
class Stopwatch {
 public:
  explicit Stopwatch(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

int env_int(const char* name, int fallback) {
  const std::string text = env(name);
  if (text.empty()) return fallback;
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw sdk::ConfigError(std::string(name) + "=\"" + text + "\": expected a whole number.");
}

}  // namespace

WorldInfo world_from_environment() {
  WorldInfo world;
  const bool torchrun = !env("WORLD_SIZE").empty();
  const bool slurm = !torchrun && !env("SLURM_NTASKS").empty();
  if (torchrun) {
    world.world_size = env_int("WORLD_SIZE", 1);
    world.rank = env_int("RANK", 0);
    world.local_rank = env_int("LOCAL_RANK", world.rank);
  } else if (slurm) {
    world.world_size = env_int("SLURM_NTASKS", 1);
    world.rank = env_int("SLURM_PROCID", 0);
    world.local_rank = env_int("SLURM_LOCALID", 0);
  }
  if (!env("MASTER_ADDR").empty()) world.master_addr = env("MASTER_ADDR");
  world.master_port = env_int("MASTER_PORT", world.master_port);
  const char* source = slurm ? "SLURM_NTASKS" : "WORLD_SIZE";
  if (world.world_size < 1) throw sdk::ConfigError(std::string(source) + " must be at least 1.");
  if (world.rank < 0 || world.rank >= world.world_size) {
    throw sdk::ConfigError(std::string(slurm ? "SLURM_PROCID" : "RANK") + "=" + std::to_string(world.rank) +
                           " is outside the world of " + std::to_string(world.world_size) + " processes.");
  }
  if (world.master_port < 1 || world.master_port > 65535) {
    throw sdk::ConfigError("MASTER_PORT=" + std::to_string(world.master_port) + " is not a TCP port.");
  }
  return world;
}

struct ProcessGroup::State {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

ProcessGroup::ProcessGroup(const WorldInfo& world, std::chrono::milliseconds timeout)
    : world_(world), state_(std::make_unique<State>()) {
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(world.master_port);
  store_options.isServer = world.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(world.world_size);
  store_options.timeout = timeout;
  try {
    state_->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
        world.master_addr == "localhost" ? std::string("127.0.0.1") : world.master_addr));
    state_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(state_->store, world.rank, world.world_size, options);
  } catch (const std::exception& error) {
    throw sdk::Error("distributed rendezvous at " + world.master_addr + ":" + std::to_string(world.master_port) +
                     " (rank " + std::to_string(world.rank) + " of " + std::to_string(world.world_size) +
                     ") failed: " + error.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::broadcast(std::vector<torch::Tensor> tensors) {
  if (world_.world_size == 1 || tensors.empty()) return;
  Stopwatch timed(communication_seconds_);
  for (const torch::Tensor& tensor : tensors) {
    std::vector<torch::Tensor> one{tensor.detach()};  // same storage, outside autograd
    state_->group->broadcast(one, c10d::BroadcastOptions{0})->wait();
  }
}

void ProcessGroup::average(const std::vector<torch::Tensor>& tensors, std::int64_t bucket_bytes) {
  if (world_.world_size == 1) return;
  Stopwatch timed(communication_seconds_);
  // Buckets of same-dtype tensors, in order: flatten, all-reduce (sum), divide, copy back.
  std::vector<torch::Tensor> bucket;
  std::int64_t bytes = 0;
  const auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat{torch::cat([&] {
      std::vector<torch::Tensor> views;
      for (const torch::Tensor& t : bucket) views.push_back(t.reshape({-1}));
      return views;
    }())};
    state_->group->allreduce(flat)->wait();
    flat[0].div_(world_.world_size);  // after wait(): Gloo has no AVG
    std::int64_t offset = 0;
    for (const torch::Tensor& t : bucket) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
    bucket.clear();
    bytes = 0;
  };
  for (const torch::Tensor& tensor : tensors) {
    if (!tensor.defined()) continue;
    if (!bucket.empty() && bucket.front().scalar_type() != tensor.scalar_type()) flush();
    bucket.push_back(tensor);
    bytes += static_cast<std::int64_t>(tensor.numel() * tensor.element_size());
    if (bytes >= bucket_bytes) flush();
  }
  flush();
}

void ProcessGroup::sum(torch::Tensor& tensor) {
  if (world_.world_size == 1) return;
  Stopwatch timed(communication_seconds_);
  std::vector<torch::Tensor> one{tensor};
  state_->group->allreduce(one)->wait();
}

bool ProcessGroup::any(bool flag) {
  if (world_.world_size == 1) return flag;
  torch::Tensor votes = torch::full({1}, flag ? 1 : 0, torch::kInt);
  sum(votes);
  return votes.item<int>() > 0;
}

std::string ProcessGroup::share(const std::string& key, const std::string& value) {
  if (world_.world_size == 1) return value;
  const std::string name = "rtseg/" + key;
  if (world_.rank == 0) {
    state_->store->set(name, std::vector<std::uint8_t>(value.begin(), value.end()));
    return value;
  }
  const std::vector<std::uint8_t> bytes = state_->store->get(name);  // waits for rank 0
  return std::string(bytes.begin(), bytes.end());
}

void ProcessGroup::barrier() {
  if (world_.world_size == 1) return;
  state_->group->barrier()->wait();
}

}  // namespace rtseg::framework::distributed
