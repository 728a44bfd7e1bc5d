#pragma once

#include <memory>
#include <string>

#include <torch/types.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/train/amp.h"

namespace rtseg::framework {

struct InferenceOptions {
  /// "fp32", "bf16", "fp16", or "auto": bf16 on CUDA devices that have it, fp16 on older ones,
  /// fp32 on the CPU. Half precision runs the model under autocast (weights stay fp32).
  std::string precision = "fp32";
  /// On CUDA, capture the forward pass once per input shape and replay the graph afterwards:
  /// one launch instead of hundreds of kernels, for a fixed input size.
  bool cuda_graph = false;
};

/// Model::predict on the model's device at a chosen precision, optionally replayed from a CUDA
/// graph. Outputs are float32 whatever the precision, so post-processing is the same.
class InferenceSession {
 public:
  /// Throws sdk::ConfigError for an unknown precision, half precision on the CPU, or a CUDA
  /// graph on the CPU or in a build without CUDA.
  InferenceSession(Model& model, InferenceOptions options);
  ~InferenceSession();
  InferenceSession(const InferenceSession&) = delete;
  InferenceSession& operator=(const InferenceSession&) = delete;

  /// images: [B, 3, H, W] normalised, on any device; padding_mask: [B, H, W] bool or undefined
  /// (see Model::forward). With a CUDA graph, a new shape captures a new graph; the returned
  /// tensors are the caller's (not overwritten by the next run).
  Prediction run(const torch::Tensor& images, const torch::Tensor& padding_mask = {});

  const torch::Device& device() const { return device_; }
  train::AmpMode precision() const { return amp_; }
  bool uses_cuda_graph() const { return options_.cuda_graph; }

 private:
  Prediction forward(const torch::Tensor& images, const torch::Tensor& padding_mask);

  Model& model_;
  InferenceOptions options_;
  torch::Device device_;
  train::AmpMode amp_;
  struct CapturedGraph;
  std::unique_ptr<CapturedGraph> graph_;
};

/// The device a model's parameters (or buffers) live on; the CPU for an empty model.
torch::Device model_device(Model& model);

}  // namespace rtseg::framework
