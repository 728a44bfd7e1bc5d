#include "rtseg/framework/distributed/gradient_reducer.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

// A post-hook on a parameter's AccumulateGrad node: runs after the gradient of this backward was
// added into the parameter's grad. (FunctionPostHook's call signature is the same in LibTorch
// 1.13 and 2.x; 2.x's LambdaPostHook changed, so this names its own class.)
class ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  explicit ReadyHook(std::function<void()> on_ready) : on_ready_(std::move(on_ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    on_ready_();
    return outputs;
  }

 private:
  std::function<void()> on_ready_;
};

}  // namespace

struct GradientReducer::Impl {
  struct Slot {
    torch::Tensor parameter;
    std::size_t bucket = 0;
    std::int64_t offset = 0;  // in the bucket's flat buffer
    bool ready = false;
    // The tensor holds its accumulator weakly: kept here so that it (and the hook on it) lives
    // as long as the reducer, not only as long as one step's graph.
    std::shared_ptr<torch::autograd::Node> accumulator;
    std::uintptr_t hook = 0;
  };
  struct Bucket {
    std::vector<std::size_t> slots;
    torch::Tensor flat;
    std::size_t ready = 0;
    PendingCollective pending;
  };

  explicit Impl(ProcessGroup& g) : group(g) {}

  ProcessGroup& group;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::size_t next_to_start = 0;  // buckets start in index order only
  bool communicating = false;
  bool overlap = true;
  std::int64_t started_during_backward = 0;

  torch::Tensor slice(const Slot& slot) const {
    return buckets[slot.bucket].flat.narrow(0, slot.offset, slot.parameter.numel()).view(slot.parameter.sizes());
  }

  // The parameter's gradient so far into its bucket (zeros where it has none).
  void pack(Slot& slot) {
    const torch::Tensor& grad = slot.parameter.grad();
    if (grad.defined()) {
      slice(slot).copy_(grad);
    } else {
      slice(slot).zero_();
    }
    slot.ready = true;
    ++buckets[slot.bucket].ready;
  }

  void start_complete_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].ready == buckets[next_to_start].slots.size()) {
      Bucket& bucket = buckets[next_to_start];
      bucket.pending = group.start_sum(bucket.flat);
      ++next_to_start;  // only once started: abandon() starts from here if start_sum threw
    }
  }

  // The hook: on the autograd engine's thread (the caller's for CPU tensors, the device's for CUDA).
  void on_ready(std::size_t index) {
    if (!communicating) return;  // a micro-batch that only accumulates
    Slot& slot = slots[index];
    if (slot.ready) {
      throw sdk::Error("distributed training: a parameter's gradient was produced twice in one backward pass "
                       "(parameter " + std::to_string(index) + "); this model cannot overlap communication");
    }
    ProcessGroup::CommunicationScope timed(group);
    torch::NoGradGuard no_grad;
    pack(slot);
    const std::size_t before = next_to_start;
    start_complete_buckets();
    started_during_backward += static_cast<std::int64_t>(next_to_start - before);
  }

  // Completes every bucket not started yet with `fill` and starts them all, in index order: the
  // end of a step, whether it averages (finish) or only takes part (abandon).
  template <typename Fill>
  void start_the_rest(Fill fill) {
    communicating = false;
    for (std::size_t b = next_to_start; b < buckets.size(); ++b) fill(buckets[b]);
    start_complete_buckets();
  }

  bool half_done() const {
    if (next_to_start > 0) return true;
    for (const Bucket& bucket : buckets) {
      if (bucket.ready > 0) return true;
    }
    return false;
  }

  void reset() {
    for (Slot& slot : slots) slot.ready = false;
    for (Bucket& bucket : buckets) {
      bucket.ready = 0;
      bucket.pending = PendingCollective();  // an abandoned step's collective is not waited for
    }
    next_to_start = 0;
  }
};

GradientReducer::GradientReducer(const std::vector<torch::Tensor>& parameters, ProcessGroup& group,
                                 std::int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>(group)) {
  // Reverse registration order: roughly the order backward finishes the gradients, so the first
  // buckets fill (and start) while backward still works on the layers near the input.
  std::int64_t bytes = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const torch::Tensor& parameter = *it;
    if (!parameter.requires_grad()) continue;
    const std::int64_t cap = impl_->buckets.size() == 1 ? std::min(bucket_bytes, kFirstBucketBytes) : bucket_bytes;
    const bool fits = !impl_->buckets.empty() && bytes < cap && [&] {
      const torch::Tensor& first = impl_->slots[impl_->buckets.back().slots.front()].parameter;
      return first.scalar_type() == parameter.scalar_type() && first.device() == parameter.device();
    }();
    if (!fits) {
      impl_->buckets.emplace_back();
      bytes = 0;
    }
    Impl::Slot slot;
    slot.parameter = parameter;
    slot.bucket = impl_->buckets.size() - 1;
    slot.offset = bytes / static_cast<std::int64_t>(parameter.element_size());
    bytes += parameter.numel() * static_cast<std::int64_t>(parameter.element_size());
    impl_->buckets.back().slots.push_back(impl_->slots.size());
    impl_->slots.push_back(std::move(slot));
  }
  for (Impl::Bucket& bucket : impl_->buckets) {
    std::int64_t numel = 0;
    for (std::size_t s : bucket.slots) numel += impl_->slots[s].parameter.numel();
    const torch::Tensor& first = impl_->slots[bucket.slots.front()].parameter;
    bucket.flat = torch::zeros({numel}, first.options().requires_grad(false));
  }
  for (std::size_t i = 0; i < impl_->slots.size(); ++i) {
    Impl::Slot& slot = impl_->slots[i];
    slot.accumulator = torch::autograd::impl::grad_accumulator(slot.parameter);
    Impl* impl = impl_.get();
    slot.hook = slot.accumulator->add_post_hook(std::make_unique<ReadyHook>([impl, i] { impl->on_ready(i); }));
  }
}

GradientReducer::~GradientReducer() {
  for (Impl::Slot& slot : impl_->slots) slot.accumulator->del_post_hook(slot.hook);
}

void GradientReducer::prepare_backward(bool communicate, const torch::Tensor& loss) {
  Impl& impl = *impl_;
  if (impl.half_done()) impl.reset();  // a step abandoned by an exception
  impl.communicating = communicate && impl.overlap;
  if (communicate) impl.started_during_backward = 0;
  if (!impl.communicating || !loss.defined()) return;
  // The gradient accumulators backward will reach from `loss`.
  std::unordered_set<const torch::autograd::Node*> reached;
  std::vector<torch::autograd::Node*> pending;
  if (const auto root = loss.grad_fn()) pending.push_back(root.get());
  while (!pending.empty()) {
    torch::autograd::Node* node = pending.back();
    pending.pop_back();
    if (!reached.insert(node).second) continue;
    for (const torch::autograd::Edge& edge : node->next_edges()) {
      if (edge.function) pending.push_back(edge.function.get());
    }
  }
  ProcessGroup::CommunicationScope timed(impl.group);
  torch::NoGradGuard no_grad;
  for (Impl::Slot& slot : impl.slots) {
    if (reached.count(slot.accumulator.get()) == 0) impl.pack(slot);  // no gradient in this backward
  }
  impl.start_complete_buckets();
  impl.started_during_backward = static_cast<std::int64_t>(impl.next_to_start);
}

void GradientReducer::finish() {
  Impl& impl = *impl_;
  ProcessGroup::CommunicationScope timed(impl.group);
  torch::NoGradGuard no_grad;
  // What no hook packed: parameters this backward did not reach (their earlier micro-batches'
  // gradient, or zeros).
  impl.start_the_rest([&impl](Impl::Bucket& bucket) {
    for (std::size_t s : bucket.slots) {
      if (!impl.slots[s].ready) impl.pack(impl.slots[s]);
    }
  });
  const double world = static_cast<double>(impl.group.world_size());
  for (Impl::Bucket& bucket : impl.buckets) {
    bucket.pending.wait();
    bucket.flat.div_(world);  // after wait(): Gloo has no AVG
  }
  for (Impl::Slot& slot : impl.slots) {
    torch::Tensor& grad = slot.parameter.mutable_grad();
    if (grad.defined()) {
      grad.copy_(impl.slice(slot));
    } else {
      grad = impl.slice(slot).clone();
    }
  }
  impl.reset();
}

void GradientReducer::abandon() {
  Impl& impl = *impl_;
  ProcessGroup::CommunicationScope timed(impl.group);
  torch::NoGradGuard no_grad;
  // The other ranks start every bucket: take part in those this rank has not started. Zeros
  // allocate nothing (the buffers exist), which matters after an out-of-memory.
  impl.start_the_rest([](Impl::Bucket& bucket) {
    bucket.flat.zero_();
    bucket.ready = bucket.slots.size();
  });
  for (Impl::Bucket& bucket : impl.buckets) bucket.pending.wait();
  impl.reset();
}

void GradientReducer::set_overlap(bool overlap) { impl_->overlap = overlap; }

bool GradientReducer::overlap() const { return impl_->overlap; }

std::int64_t GradientReducer::bucket_count() const { return static_cast<std::int64_t>(impl_->buckets.size()); }

std::int64_t GradientReducer::started_during_backward() const { return impl_->started_during_backward; }

}  // namespace rtseg::framework::distributed
