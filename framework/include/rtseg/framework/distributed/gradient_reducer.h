#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

namespace rtseg::framework::distributed {

class ProcessGroup;

/// Averages the gradients of the trainable parameters over the ranks while backward still runs,
/// as PyTorch's DistributedDataParallel does (LibTorch has no C++ DDP):
///
/// - the parameters are laid out once in buckets of about `bucket_bytes`, in reverse parameter
///   order (the order backward produces their gradients); the first bucket holds at most
///   kFirstBucketBytes, as in DDP, so that communication starts early in backward;
/// - a hook on each parameter's gradient accumulator marks it ready and copies its gradient
///   into its bucket; a complete bucket starts its all-reduce at once (asynchronously), but only
///   after every lower-numbered bucket has started, so that all ranks start the same
///   collectives in the same order (c10d matches them by order);
/// - finish() starts what is left (a parameter without a gradient in this backward contributes
///   its gradient so far, or zeros), waits, divides by the world size and copies the averages
///   back into the gradients.
///
/// With gradient accumulation only the last micro-batch communicates: the hooks do nothing
/// during the other micro-batches' backward (DDP's no_sync), so the gradients accumulate locally
/// and their sum is averaged once.
class GradientReducer {
 public:
  static constexpr std::int64_t kDefaultBucketBytes = 25 << 20;
  static constexpr std::int64_t kFirstBucketBytes = 1 << 20;

  /// `parameters` in registration order (the model's parameters()); frozen ones (no
  /// requires_grad) take no part. Every rank must pass the same list.
  GradientReducer(const std::vector<torch::Tensor>& parameters, ProcessGroup& group,
                  std::int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientReducer();  ///< removes the hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Before each backward of a step, with the tensor backward starts from: `communicate` for
  /// the last micro-batch (its hooks start the buckets), false for the others (gradients only
  /// accumulate). Communicating, the parameters `loss` does not depend on (the autograd graph
  /// does not reach them) are ready at once, as DDP's find_unused_parameters does: otherwise
  /// their buckets, and every later one, would wait for the end of backward. Also forgets a step
  /// that was abandoned half-way (an exception in backward).
  void prepare_backward(bool communicate, const torch::Tensor& loss = {});

  /// After the step's communicating backward (every rank calls it once per step, also a rank
  /// whose backward produced nothing): starts the remaining buckets, waits for all, and leaves
  /// the averaged gradient in every parameter's grad (defined afterwards, zeros where no rank
  /// had one).
  void finish();

  /// Instead of finish(), on a rank whose step failed part-way (out of memory): starts every
  /// bucket not started yet -- with zeros -- and waits for all, so that the other ranks' step
  /// completes its collectives instead of waiting for this rank until the timeout. The result
  /// is meaningless; the gradients are left alone, and the ranks then agree to drop the step.
  void abandon();

  /// false: the hooks start nothing and finish() averages every bucket after backward (the
  /// plain bucketed all-reduce, for comparison). Default true.
  void set_overlap(bool overlap);
  bool overlap() const;

  std::int64_t bucket_count() const;
  /// Buckets started before the last communicating backward ended, i.e. before finish(): the
  /// communication that overlapped with backward.
  std::int64_t started_during_backward() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtseg::framework::distributed
