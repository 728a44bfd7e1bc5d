#include "rtseg/framework/distributed/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if RTSEG_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

// The CommunicationScopes open in this thread: only the outermost one counts.
thread_local int open_scopes = 0;

constexpr const char* kAllReduce = "an all-reduce with the other ranks";
constexpr const char* kGradientAllReduce = "a gradient all-reduce with the other ranks";

// A collective that fails on one rank almost always failed because another rank stopped (its
// connections closed) or stopped answering (the timeout): say so, since the backend's own text
// ("Connection closed by peer") names neither the operation nor where to look.
template <typename Call>
auto with_context(const ProcessGroup& group, const std::string& operation, Call call) -> decltype(call()) {
  try {
    return call();
  } catch (const sdk::Error&) {
    throw;
  } catch (const std::exception& error) {
    throw sdk::Error("distributed training, rank " + std::to_string(group.rank()) + " of " +
                     std::to_string(group.world_size()) + ": " + operation + " failed (" +
                     error.what() +
                     "). Another rank most likely stopped first (its log says why), or stopped answering for "
                     "longer than train.dist_timeout.");
  }
}

}  // namespace

ProcessGroup::CommunicationScope::CommunicationScope(ProcessGroup& group)
    : group_(group), outermost_(open_scopes++ == 0), start_(std::chrono::steady_clock::now()) {}

ProcessGroup::CommunicationScope::~CommunicationScope() {
  --open_scopes;
  if (!outermost_) return;
  group_.communication_ns_ +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
}

struct PendingCollective::Work {
  c10::intrusive_ptr<c10d::Work> work;
  ProcessGroup* group = nullptr;
};

PendingCollective::PendingCollective() = default;
PendingCollective::~PendingCollective() = default;
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&&) noexcept = default;

void PendingCollective::wait() {
  if (!work_) return;
  ProcessGroup::CommunicationScope timed(*work_->group);
  const c10::intrusive_ptr<c10d::Work> work = std::move(work_->work);
  ProcessGroup& group = *work_->group;
  work_.reset();
  with_context(group, kGradientAllReduce, [&work] { return work->wait(); });
}

struct ProcessGroup::State {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if RTSEG_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // CUDA tensors go through NCCL when the group has it; everything else through Gloo.
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<torch::Tensor>& tensors, const c10d::AllreduceOptions& options) {
#if RTSEG_WITH_NCCL
    if (nccl && tensors.front().is_cuda()) return nccl->allreduce(tensors, options);
#endif
    return gloo->allreduce(tensors, options);
  }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& tensors) {
    c10d::BroadcastOptions options;
    options.rootRank = 0;
#if RTSEG_WITH_NCCL
    if (nccl && tensors.front().is_cuda()) return nccl->broadcast(tensors, options);
#endif
    return gloo->broadcast(tensors, options);
  }
};

ProcessGroup::ProcessGroup(const WorldInfo& world, std::chrono::milliseconds timeout, Backend backend,
                           bool collectives_when_alone)
    : world_(world),
      backend_(backend),
      skip_collectives_(world.world_size == 1 && !collectives_when_alone),
      state_(std::make_unique<State>()) {
  if (backend == Backend::kNccl) choose_backend("nccl", torch::kCUDA);  // throws, explaining, without NCCL
  const char* socket_ifname = std::getenv("GLOO_SOCKET_IFNAME");
  const GlooNetwork network = gloo_network(world.master_addr, socket_ifname ? socket_ifname : "");
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(world.master_port);
  store_options.isServer = world.rank == 0 && !world.agent_store;
  store_options.numWorkers = static_cast<std::size_t>(world.world_size);
  store_options.timeout = timeout;
  try {
    state_->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    if (world.agent_store) {
      // A restarted attempt must not read the keys an earlier attempt left in the agent's store.
      state_->store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(world.restart_count),
                                                             state_->store);
    }
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    switch (network.kind) {
      case GlooNetwork::Kind::kLoopback:
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        break;
      case GlooNetwork::Kind::kInterfaces:
        for (const std::string& name : network.interfaces) {
          options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        }
        break;
      case GlooNetwork::Kind::kHostname:
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        break;
    }
    // Two groups share the store: each keeps its keys under its own prefix.
    state_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", state_->store), world.rank, world.world_size, options);
#if RTSEG_WITH_NCCL
    if (backend == Backend::kNccl) {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      state_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl", state_->store), world.rank, world.world_size, nccl_options);
    }
#endif
  } catch (const std::exception& error) {
    throw sdk::Error("distributed rendezvous at " + world.master_addr + ":" + std::to_string(world.master_port) +
                     " (rank " + std::to_string(world.rank) + " of " + std::to_string(world.world_size) +
                     ") failed: " + error.what() +
                     (network.kind == GlooNetwork::Kind::kLoopback
                          ? std::string()
                          : std::string(" (MASTER_ADDR must be reachable from every machine; GLOO_SOCKET_IFNAME names "
                                        "the network interface this machine's ranks use)")));
  }
}

ProcessGroup::~ProcessGroup() {
#if RTSEG_WITH_NCCL
  // PyTorch's rule for NCCL groups (what destroy_process_group does): finish the communicators
  // explicitly before the group is destructed; otherwise the destructor only warns and leaves
  // them, and their threads, to process exit. While an error unwinds, a peer may be gone and
  // flushing could wait for it, so the group is aborted instead.
  if (state_->nccl) {
    try {
      if (std::uncaught_exceptions() > 0) {
        state_->nccl->abort();
      } else {
        state_->nccl->shutdown();
      }
    } catch (const std::exception&) {
      // Nothing more can be done for a group that fails to close while it is being destroyed.
    }
  }
#endif
}

void ProcessGroup::broadcast(std::vector<torch::Tensor> tensors) {
  if (skip_collectives_ || tensors.empty()) return;
  CommunicationScope timed(*this);
  for (const torch::Tensor& tensor : tensors) {
    std::vector<torch::Tensor> one{tensor.detach()};  // same storage, outside autograd
    ++collectives_started_;
    with_context(*this, "the broadcast from rank 0", [&] { return state_->broadcast(one)->wait(); });
  }
}

PendingCollective ProcessGroup::start_sum(torch::Tensor tensor) {
  PendingCollective pending;
  if (skip_collectives_) return pending;
  CommunicationScope timed(*this);
  std::vector<torch::Tensor> one{std::move(tensor)};
  pending.work_ = std::make_unique<PendingCollective::Work>();
  pending.work_->group = this;
  ++collectives_started_;
  pending.work_->work =
      with_context(*this, kGradientAllReduce, [&] { return state_->allreduce(one, c10d::AllreduceOptions()); });
  return pending;
}

void ProcessGroup::average(const std::vector<torch::Tensor>& tensors, std::int64_t bucket_bytes) {
  if (skip_collectives_) return;
  CommunicationScope timed(*this);
  // Buckets of same-dtype, same-device tensors, in order: flatten, all-reduce (sum), divide,
  // copy back.
  std::vector<torch::Tensor> bucket;
  std::int64_t bytes = 0;
  const auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> views;
    for (const torch::Tensor& t : bucket) views.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(views)};
    ++collectives_started_;
    with_context(*this, kAllReduce, [&] { return state_->allreduce(flat, c10d::AllreduceOptions())->wait(); });
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
    if (!bucket.empty() &&
        (bucket.front().scalar_type() != tensor.scalar_type() || bucket.front().device() != tensor.device())) {
      flush();
    }
    bucket.push_back(tensor);
    bytes += static_cast<std::int64_t>(tensor.numel() * tensor.element_size());
    if (bytes >= bucket_bytes) flush();
  }
  flush();
}

void ProcessGroup::sum(torch::Tensor& tensor) {
  if (skip_collectives_) return;
  CommunicationScope timed(*this);
  std::vector<torch::Tensor> one{tensor};
  ++collectives_started_;
  with_context(*this, kAllReduce, [&] { return state_->allreduce(one, c10d::AllreduceOptions())->wait(); });
}

bool ProcessGroup::any(bool flag) {
  if (skip_collectives_) return flag;
  torch::Tensor votes = torch::full({1}, flag ? 1 : 0, torch::kInt);
  sum(votes);
  return votes.item<int>() > 0;
}

std::int64_t ProcessGroup::minimum(std::int64_t value) {
  if (skip_collectives_) return value;
  CommunicationScope timed(*this);
  std::vector<torch::Tensor> one{torch::full({1}, value, torch::kLong)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MIN;
  ++collectives_started_;
  with_context(*this, kAllReduce, [&] { return state_->gloo->allreduce(one, options)->wait(); });
  return one[0].item<std::int64_t>();
}

std::vector<std::vector<std::uint8_t>> ProcessGroup::gather_to_rank0(const std::vector<std::uint8_t>& bytes) {
  if (skip_collectives_) return {bytes};
  CommunicationScope timed(*this);
  // Gloo gathers tensors of one size: exchange the sizes, pad to the largest, trim on rank 0.
  std::vector<torch::Tensor> sizes{torch::zeros({world_.world_size}, torch::kLong)};
  sizes[0][world_.rank] = static_cast<std::int64_t>(bytes.size());
  ++collectives_started_;
  with_context(*this, "gathering results on rank 0",
               [&] { return state_->gloo->allreduce(sizes, c10d::AllreduceOptions())->wait(); });
  const torch::Tensor size_list = sizes[0].contiguous();
  const std::int64_t* size_of = size_list.data_ptr<std::int64_t>();
  const std::int64_t largest = std::max<std::int64_t>(1, size_list.max().item<std::int64_t>());

  std::vector<torch::Tensor> input{torch::zeros({largest}, torch::kUInt8)};
  if (!bytes.empty()) std::memcpy(input[0].data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
  std::vector<std::vector<torch::Tensor>> outputs;  // rank 0: one slot per rank; the others: none
  if (world_.rank == 0) {
    outputs.emplace_back();
    for (int r = 0; r < world_.world_size; ++r) outputs[0].push_back(torch::empty({largest}, torch::kUInt8));
  }
  c10d::GatherOptions options;
  options.rootRank = 0;
  ++collectives_started_;
  with_context(*this, "gathering results on rank 0",
               [&] { return state_->gloo->gather(outputs, input, options)->wait(); });
  std::vector<std::vector<std::uint8_t>> gathered;
  if (world_.rank != 0) return gathered;
  for (int r = 0; r < world_.world_size; ++r) {
    const std::uint8_t* data = outputs[0][static_cast<std::size_t>(r)].data_ptr<std::uint8_t>();
    gathered.emplace_back(data, data + size_of[r]);
  }
  return gathered;
}

std::string ProcessGroup::share(const std::string& key, const std::string& value) {
  if (skip_collectives_) return value;
  const std::string name = "rtseg/" + key;
  if (world_.rank == 0) {
    state_->store->set(name, std::vector<std::uint8_t>(value.begin(), value.end()));
    return value;
  }
  const std::vector<std::uint8_t> bytes =  // waits for rank 0
      with_context(*this, "waiting for rank 0's '" + key + "'", [&] { return state_->store->get(name); });
  return std::string(bytes.begin(), bytes.end());
}

void ProcessGroup::barrier() {
  if (skip_collectives_) return;
  ++collectives_started_;
  with_context(*this, "a barrier with the other ranks", [&] { return state_->gloo->barrier()->wait(); });
}

}  // namespace rtseg::framework::distributed
