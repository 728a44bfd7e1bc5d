#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

/// Data-parallel training on PyTorch's own c10d machinery: a TCPStore rendezvous and a Gloo
/// process group, configured from the environment torchrun and SLURM set. No home-made transport.
namespace rtseg::framework::distributed {

/// Where this process stands, read from the environment.
struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  bool distributed() const { return world_size > 1; }
};

/// torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT, else SLURM's
/// SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID (MASTER_ADDR still from the environment); a single
/// process when neither is set. Throws sdk::ConfigError for values that do not add up (a rank
/// outside the world, a port that is not a number), naming the variable.
WorldInfo world_from_environment();

/// One process group for the run. Collective calls block until every rank takes part or the
/// timeout passes, which then throws (a rank that died does not hang the others).
class ProcessGroup {
 public:
  /// Rendezvous at master_addr:master_port (rank 0 serves the store) and build the Gloo group.
  /// The timeout must outlast rank 0's validation at an epoch's end, which the others wait out.
  ProcessGroup(const WorldInfo& world, std::chrono::milliseconds timeout = std::chrono::minutes(30));
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return world_.rank; }
  int world_size() const { return world_.world_size; }
  int local_rank() const { return world_.local_rank; }

  /// Copies rank 0's values into every rank's tensors (parameters and buffers at start).
  void broadcast(std::vector<torch::Tensor> tensors);

  /// Averages the tensors over the ranks in place, packed into flat buckets of about
  /// `bucket_bytes` (one collective per bucket rather than per tensor). Undefined tensors are
  /// skipped (every rank must pass the same list).
  void average(const std::vector<torch::Tensor>& tensors, std::int64_t bucket_bytes = 25 << 20);

  /// Sums a small tensor over the ranks in place (loss normalisers, stop votes).
  void sum(torch::Tensor& tensor);

  /// Whether `flag` is true on any rank (stop votes: a signal, a non-finite step, early stopping).
  bool any(bool flag);

  /// Rank 0's `value` for `key` on every rank (e.g. the run folder rank 0 created).
  std::string share(const std::string& key, const std::string& value);

  /// Waits until every rank arrives.
  void barrier();

  /// Seconds spent in collectives so far (waiting for other ranks included): the trainer reports
  /// the communication time per step from it.
  double communication_seconds() const { return communication_seconds_; }

 private:
  double communication_seconds_ = 0;
  struct State;
  WorldInfo world_;
  std::unique_ptr<State> state_;
};

}  // namespace rtseg::framework::distributed
