// Where this process stands (torchrun's and SLURM's variables) and which backend carries its
// collectives.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

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

// SLURM_NTASKS_PER_NODE may read "2(x3)" (2 tasks on each of 3 nodes): the leading number.
int leading_int(const std::string& text, int fallback) {
  const int value = std::atoi(text.c_str());
  return value > 0 ? value : fallback;
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1" || address == "[::1]";
}

// SLURM_JOB_ID 123456 -> a port in [20000, 30000): below Linux's ephemeral range (32768 up), so
// no outgoing connection holds it, and different jobs on one node rarely meet.
int port_for_slurm_job(const std::string& job_id) {
  std::uint64_t id = 0;
  for (const char c : job_id) {
    if (c >= '0' && c <= '9') id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return 20000 + static_cast<int>(id % 10000);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // Hosts are separated by commas outside brackets; inside brackets a comma separates ranges.
  std::string host;
  std::size_t i = 0;
  while (i < nodelist.size() && nodelist[i] != ',') {
    if (nodelist[i] != '[') {
      host += nodelist[i++];
      continue;
    }
    const std::size_t close = nodelist.find(']', i);
    if (close == std::string::npos) {
      throw sdk::ConfigError("SLURM node list \"" + nodelist + "\": a '[' is not closed; set MASTER_ADDR to the first node.");
    }
    // The range list's first number, leading zeros kept: [07-09,12] -> 07.
    const std::string ranges = nodelist.substr(i + 1, close - i - 1);
    host += ranges.substr(0, ranges.find_first_of(",-"));
    i = close + 1;
  }
  if (host.empty()) {
    throw sdk::ConfigError("SLURM node list \"" + nodelist + "\" names no host first; set MASTER_ADDR to the first node.");
  }
  return host;
}

GlooNetwork gloo_network(const std::string& master_addr, const std::string& socket_ifname) {
  GlooNetwork network;
  if (!socket_ifname.empty()) {
    network.kind = GlooNetwork::Kind::kInterfaces;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = socket_ifname.find(',', start);
      const std::string name = socket_ifname.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (name.empty()) {
        throw sdk::ConfigError("GLOO_SOCKET_IFNAME=\"" + socket_ifname +
                               "\" has an empty interface name; list interfaces separated by commas, e.g. eth0,eth1.");
      }
      network.interfaces.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return network;
  }
  network.kind = is_loopback(master_addr) ? GlooNetwork::Kind::kLoopback : GlooNetwork::Kind::kHostname;
  return network;
}

WorldInfo world_from_environment() {
  WorldInfo world;
  const bool torchrun = !env("WORLD_SIZE").empty();
  const bool slurm = !torchrun && !env("SLURM_NTASKS").empty();
  if (torchrun) {
    world.world_size = env_int("WORLD_SIZE", 1);
    world.rank = env_int("RANK", 0);
    world.local_rank = env_int("LOCAL_RANK", world.rank);
    world.local_world_size = env_int("LOCAL_WORLD_SIZE", world.world_size);
    const std::string agent_store = env("TORCHELASTIC_USE_AGENT_STORE");
    world.agent_store = agent_store == "True" || agent_store == "true" || agent_store == "1";
    world.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0);
  } else if (slurm) {
    // srun's step may run fewer tasks than the job has (srun -n 2 in an 8-task job).
    world.world_size = env_int("SLURM_STEP_NUM_TASKS", env_int("SLURM_NTASKS", 1));
    world.rank = env_int("SLURM_PROCID", 0);
    world.local_rank = env_int("SLURM_LOCALID", 0);
    // SLURM_NTASKS_PER_NODE only with --ntasks-per-node; SLURM_TASKS_PER_NODE always.
    const std::string per_node = env("SLURM_NTASKS_PER_NODE");
    world.local_world_size = leading_int(per_node.empty() ? env("SLURM_TASKS_PER_NODE") : per_node, world.world_size);
    // The step's nodes (srun -w node2 puts rank 0 on node2), else the job's.
    std::string nodes = env("SLURM_STEP_NODELIST");
    if (nodes.empty()) nodes = !env("SLURM_JOB_NODELIST").empty() ? env("SLURM_JOB_NODELIST") : env("SLURM_NODELIST");
    if (env("MASTER_ADDR").empty() && !nodes.empty()) world.master_addr = first_slurm_host(nodes);
    if (!env("SLURM_JOB_ID").empty()) world.master_port = port_for_slurm_job(env("SLURM_JOB_ID"));
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
  world.local_world_size = std::max(1, std::min(world.local_world_size, world.world_size));
  return world;
}

int cuda_device_for_rank(int local_rank, int visible_devices) {
  if (visible_devices == 1) return 0;  // the launcher gave this rank its own GPU
  if (local_rank < visible_devices) return local_rank;
  throw sdk::ConfigError("local rank " + std::to_string(local_rank) + " has no GPU: this process sees " +
                         std::to_string(visible_devices) +
                         " CUDA device(s). Start at most one rank per GPU on each machine (torchrun --nproc-per-node, "
                         "srun --ntasks-per-node) and check LOCAL_RANK / SLURM_LOCALID and CUDA_VISIBLE_DEVICES.");
}

bool nccl_available() { return RTSEG_WITH_NCCL != 0; }

const char* to_string(Backend backend) { return backend == Backend::kNccl ? "nccl" : "gloo"; }

Backend choose_backend(const std::string& setting, const torch::Device& device) {
  return choose_backend(setting, device, nccl_available());
}

Backend choose_backend(const std::string& setting, const torch::Device& device, bool build_has_nccl) {
  if (setting == "gloo") return Backend::kGloo;
  if (setting == "auto") return device.is_cuda() && build_has_nccl ? Backend::kNccl : Backend::kGloo;
  if (setting != "nccl") {
    throw sdk::ConfigError("train.dist_backend = \"" + setting + "\": expected auto, gloo or nccl.");
  }
  if (!build_has_nccl) {
    throw sdk::ConfigError(
        "train.dist_backend = \"nccl\" but this build of rtseg has no NCCL (it needs a CUDA LibTorch built with "
        "NCCL, and nccl.h when rtseg is configured); use train.dist_backend = \"gloo\" (--dist_backend gloo) or "
        "\"auto\".");
  }
  if (!device.is_cuda()) {
    throw sdk::ConfigError("train.dist_backend = \"nccl\" carries CUDA tensors only, but train.device is " +
                           device.str() + "; use train.dist_backend = \"gloo\" or \"auto\", or a CUDA device.");
  }
  return Backend::kNccl;
}

}  // namespace rtseg::framework::distributed
