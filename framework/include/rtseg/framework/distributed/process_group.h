#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

/// Data-parallel training on PyTorch's own c10d machinery: a TCPStore rendezvous and a Gloo
/// process group (plus an NCCL one for CUDA tensors where the build has NCCL), configured from
/// the environment torchrun and SLURM set. No home-made transport.
namespace rtseg::framework::distributed {

/// Where this process stands, read from the environment.
struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  /// Ranks on this machine (torchrun's LOCAL_WORLD_SIZE, SLURM_NTASKS_PER_NODE); the whole world
  /// when the environment does not say.
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// torchrun (TORCHELASTIC_USE_AGENT_STORE): its agent already serves the store at
  /// master_addr:master_port, so every rank, rank 0 too, connects as a client, and keys live under
  /// the restart attempt's prefix (TORCHELASTIC_RESTART_COUNT), as PyTorch's workers do.
  bool agent_store = false;
  int restart_count = 0;

  bool distributed() const { return world_size > 1; }
};

/// torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT, else SLURM's
/// SLURM_PROCID / SLURM_STEP_NUM_TASKS (else SLURM_NTASKS) / SLURM_LOCALID; a single process
/// when neither is set. Under SLURM, an unset MASTER_ADDR is the step's first node
/// (SLURM_STEP_NODELIST, else SLURM_JOB_NODELIST) and an unset MASTER_PORT is derived from
/// SLURM_JOB_ID, so that two jobs sharing a node do not collide. Throws sdk::ConfigError for
/// values that do not add up (a rank outside the world, a port that is not a number), naming the
/// variable.
WorldInfo world_from_environment();

/// The first host of a SLURM node list: "gpu[07-09,12],cpu1" -> "gpu07", "a,b" -> "a".
/// Throws sdk::ConfigError for a list it cannot read (an unclosed bracket, nothing before a comma).
std::string first_slurm_host(const std::string& nodelist);

/// The network Gloo's connections bind to on this machine.
struct GlooNetwork {
  enum class Kind {
    kLoopback,    ///< 127.0.0.1: the master is this machine, so every rank is on it
    kInterfaces,  ///< the interfaces GLOO_SOCKET_IFNAME lists (one Gloo device each)
    kHostname,    ///< the address this machine's hostname resolves to (c10d's default device)
  };
  Kind kind = Kind::kLoopback;
  std::vector<std::string> interfaces;
};

/// As PyTorch chooses: GLOO_SOCKET_IFNAME ("eth0" or "eth0,ib0") when set; loopback when the
/// master address is a loopback one; else this machine's own address. (Binding to the master's
/// address, as a single machine may, fails on every other machine of a multi-node run.)
/// Throws sdk::ConfigError for an empty interface name in GLOO_SOCKET_IFNAME.
GlooNetwork gloo_network(const std::string& master_addr, const std::string& socket_ifname);

/// The CUDA device a rank trains on: cuda:LOCAL_RANK, or cuda:0 when the process sees one GPU
/// (the launcher bound each rank to its own: srun --gpus-per-task=1, CUDA_VISIBLE_DEVICES per
/// rank). Throws sdk::ConfigError when the local rank has no device.
int cuda_device_for_rank(int local_rank, int visible_devices);

/// What carries the collectives of tensors on the training device.
enum class Backend {
  kGloo,  ///< CPU tensors (and CUDA ones through host memory)
  kNccl,  ///< CUDA tensors, GPU to GPU; CPU-side collectives (votes, results) still use Gloo
};

/// Whether this build of LibTorch (and rtseg) has NCCL: a CUDA LibTorch with ProcessGroupNCCL.
bool nccl_available();

/// train.dist_backend for a run on `device`: "auto" is NCCL on a CUDA device when the build has
/// it, else Gloo; "gloo" always works; "nccl" throws sdk::ConfigError, naming the key, on a build
/// without NCCL or for a CPU device.
Backend choose_backend(const std::string& setting, const torch::Device& device);
/// The same decision for a build that has NCCL or not (so that tests check both kinds of build).
Backend choose_backend(const std::string& setting, const torch::Device& device, bool build_has_nccl);

const char* to_string(Backend backend);

/// A collective started by ProcessGroup::start_sum: its tensor holds the result only after
/// wait(). Empty (wait() returns at once) for a single process.
class PendingCollective {
 public:
  PendingCollective();
  ~PendingCollective();
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;

  /// Gloo: blocks until the collective completed, and throws when it failed or timed out. NCCL:
  /// orders the current CUDA stream after it (the result is ready for what the stream runs
  /// next). The wait counts as communication time. A second wait() returns at once.
  void wait();
  bool started() const { return work_ != nullptr; }

 private:
  friend class ProcessGroup;
  struct Work;
  std::unique_ptr<Work> work_;
};

/// One process group for the run. Over Gloo, collective calls block until every rank takes part
/// or the timeout passes, which then throws (a rank that died does not hang the others). Over
/// NCCL, waiting makes the current CUDA stream wait and returns; a dead peer shows when the host
/// next reads a result, after NCCL's watchdog times out (the launcher stops such a rank). Every
/// rank must call the same collectives in the same order: c10d matches them by order.
class ProcessGroup {
 public:
  /// Rendezvous at master_addr:master_port (rank 0 serves the store) and build the Gloo group,
  /// and with Backend::kNccl an NCCL group for CUDA tensors. The timeout must outlast the
  /// longest time one rank may wait for another (an epoch's end, rank 0's metrics and files).
  ///
  /// A group of one rank returns from every collective at once, unless `collectives_when_alone`
  /// (tests of a backend on a machine with one device: NCCL refuses two ranks on one GPU).
  explicit ProcessGroup(const WorldInfo& world, std::chrono::milliseconds timeout = std::chrono::minutes(30),
                        Backend backend = Backend::kGloo, bool collectives_when_alone = false);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return world_.rank; }
  int world_size() const { return world_.world_size; }
  int local_rank() const { return world_.local_rank; }
  const WorldInfo& world() const { return world_; }
  Backend backend() const { return backend_; }

  /// Copies rank 0's values into every rank's tensors (parameters and buffers at start).
  void broadcast(std::vector<torch::Tensor> tensors);

  /// Averages the tensors over the ranks in place, packed into flat buckets of about
  /// `bucket_bytes` (one collective per bucket rather than per tensor). Undefined tensors are
  /// skipped (every rank must pass the same list). Blocking; GradientReducer overlaps the
  /// gradients' averaging with the backward pass instead.
  void average(const std::vector<torch::Tensor>& tensors, std::int64_t bucket_bytes = 25 << 20);

  /// Starts summing `tensor` over the ranks in place and returns at once (the training thread
  /// goes on while the backend's threads, or NCCL's stream, communicate). Read the tensor only
  /// after wait(). CUDA tensors go through NCCL when the group has it.
  PendingCollective start_sum(torch::Tensor tensor);

  /// Sums a small tensor over the ranks in place (loss normalisers, stop votes).
  void sum(torch::Tensor& tensor);

  /// Whether `flag` is true on any rank (stop votes: a signal, a non-finite step, early stopping).
  bool any(bool flag);

  /// The smallest `value` over the ranks (e.g. the batch every rank's memory fits).
  std::int64_t minimum(std::int64_t value);

  /// Every rank's `bytes` on rank 0, in rank order (rank 0's own first); the other ranks get an
  /// empty list. Sizes may differ between ranks.
  std::vector<std::vector<std::uint8_t>> gather_to_rank0(const std::vector<std::uint8_t>& bytes);

  /// Rank 0's `value` for `key` on every rank (e.g. the run folder rank 0 created).
  std::string share(const std::string& key, const std::string& value);

  /// Waits until every rank arrives.
  void barrier();

  /// Seconds the calling threads spent in collectives so far: blocking calls, starting
  /// asynchronous ones and waiting for them (waiting for other ranks included), and the work
  /// around them that callers time with a CommunicationScope (packing and unpacking buckets).
  /// The trainer reports the communication time per step from it; with the overlap it is the
  /// part backward did not hide.
  double communication_seconds() const { return static_cast<double>(communication_ns_.load()) * 1e-9; }

  /// Counts the wall time of its scope as communication; scopes nested in one thread count once.
  class CommunicationScope {
   public:
    explicit CommunicationScope(ProcessGroup& group);
    ~CommunicationScope();
    CommunicationScope(const CommunicationScope&) = delete;
    CommunicationScope& operator=(const CommunicationScope&) = delete;

   private:
    ProcessGroup& group_;
    bool outermost_;
    std::chrono::steady_clock::time_point start_;
  };

  /// Collectives started so far (tests count the gradient buckets with it).
  std::int64_t collectives_started() const { return collectives_started_.load(); }

 private:
  std::atomic<std::int64_t> communication_ns_{0};
  std::atomic<std::int64_t> collectives_started_{0};
  struct State;
  WorldInfo world_;
  Backend backend_;
  bool skip_collectives_;  // one rank: every collective is the identity
  std::unique_ptr<State> state_;
};

}  // namespace rtseg::framework::distributed
