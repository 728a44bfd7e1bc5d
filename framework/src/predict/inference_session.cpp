#include "rtseg/framework/predict/inference_session.h"

#include <torch/torch.h>

#include "rtseg/sdk/errors.h"

#if RTSEG_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace rtseg::framework {
namespace {

// Untimed forward passes on the capture stream before capturing: they let cuBLAS/cuDNN pick
// algorithms and allocate workspaces outside the graph, as torch.cuda.graphs requires.
constexpr int kWarmupRuns = 3;

train::AmpMode resolve_precision(const std::string& precision, const torch::Device& device) {
  if (precision == "fp32") return train::AmpMode::kOff;
  if (precision != "auto" && precision != "bf16" && precision != "fp16") {
    throw sdk::ConfigError("precision \"" + precision + "\": expected fp32, bf16, fp16 or auto.");
  }
  if (precision == "auto") return train::resolve_amp("auto", device);
  if (!device.is_cuda()) {
    throw sdk::ConfigError("precision \"" + precision + "\" needs a CUDA device (the model is on " + device.str() +
                           "); use fp32 or auto.");
  }
  return precision == "bf16" ? train::AmpMode::kBf16 : train::AmpMode::kFp16;
}

torch::Tensor as_float(const torch::Tensor& tensor) {
  return tensor.defined() && tensor.scalar_type() != torch::kFloat ? tensor.to(torch::kFloat) : tensor;
}

Prediction to_float(Prediction prediction) {
  prediction.detections.logits = as_float(prediction.detections.logits);
  prediction.detections.boxes = as_float(prediction.detections.boxes);
  prediction.detections.features = as_float(prediction.detections.features);
  if (prediction.masks) {
    prediction.masks->pixels = as_float(prediction.masks->pixels);
    prediction.masks->queries = as_float(prediction.masks->queries);
    prediction.masks->bias = as_float(prediction.masks->bias);
  }
  return prediction;
}

#if RTSEG_WITH_CUDA
// A CUDA graph replays into the same output tensors: callers get copies.
torch::Tensor cloned(const torch::Tensor& tensor) { return tensor.defined() ? tensor.clone() : tensor; }

Prediction clone_prediction(const Prediction& prediction) {
  Prediction copy;
  copy.detections.logits = cloned(prediction.detections.logits);
  copy.detections.boxes = cloned(prediction.detections.boxes);
  copy.detections.features = cloned(prediction.detections.features);
  if (prediction.masks) {
    copy.masks = sdk::MaskEmbedding{cloned(prediction.masks->pixels), cloned(prediction.masks->queries),
                                    cloned(prediction.masks->bias)};
  }
  return copy;
}
#endif

}  // namespace

torch::Device model_device(Model& model) {
  for (const torch::Tensor& parameter : model.parameters()) return parameter.device();
  for (const torch::Tensor& buffer : model.buffers()) return buffer.device();
  return torch::kCPU;
}

#if RTSEG_WITH_CUDA
namespace {
// Work queued on `waiter` from now on starts after what is queued on `other` (wait_stream).
void wait_for(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& other) {
  at::cuda::CUDAEvent event;
  event.record(other);
  event.block(waiter);
}
}  // namespace

struct InferenceSession::CapturedGraph {
  at::cuda::CUDAGraph graph;
  torch::Tensor input;  // the graph reads its inputs from here ...
  torch::Tensor padding_mask;
  Prediction output;    // ... and writes its outputs here, on every replay
};
#else
struct InferenceSession::CapturedGraph {};
#endif

InferenceSession::InferenceSession(Model& model, InferenceOptions options)
    : model_(model), options_(std::move(options)), device_(model_device(model)),
      amp_(resolve_precision(options_.precision, device_)) {
  if (options_.cuda_graph && !device_.is_cuda()) {
    throw sdk::ConfigError("CUDA graphs need the model on a CUDA device (it is on " + device_.str() + ").");
  }
#if !RTSEG_WITH_CUDA
  if (options_.cuda_graph) throw sdk::ConfigError("this build of rtseg has no CUDA support: no CUDA graphs.");
#endif
  model_.eval();
}

InferenceSession::~InferenceSession() = default;

Prediction InferenceSession::forward(const torch::Tensor& images, const torch::Tensor& padding_mask) {
  train::AutocastScope autocast(amp_);
  return to_float(model_.predict(images, padding_mask));
}

Prediction InferenceSession::run(const torch::Tensor& images, const torch::Tensor& padding_mask) {
  torch::NoGradGuard no_grad;
  model_.eval();
  const auto on_device = [this](const torch::Tensor& t) { return t.defined() ? t.to(device_, true) : t; };
  if (!options_.cuda_graph) return forward(on_device(images), on_device(padding_mask));
#if RTSEG_WITH_CUDA
  if (!graph_ || graph_->input.sizes() != images.sizes() ||
      graph_->padding_mask.defined() != padding_mask.defined()) {
    graph_.reset();  // frees the previous graph's memory pool before capturing anew
    auto captured = std::make_unique<CapturedGraph>();
    captured->input = images.to(device_).clone();
    if (padding_mask.defined()) captured->padding_mask = padding_mask.to(device_).clone();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device_.index());
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device_.index());
    wait_for(side, current);  // the input copy above was queued on the current stream
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < kWarmupRuns; ++i) forward(captured->input, captured->padding_mask);
      captured->graph.capture_begin();
      captured->output = forward(captured->input, captured->padding_mask);
      captured->graph.capture_end();
    }
    wait_for(current, side);
    graph_ = std::move(captured);
  } else {
    graph_->input.copy_(images, /*non_blocking=*/true);
    if (padding_mask.defined()) graph_->padding_mask.copy_(padding_mask, /*non_blocking=*/true);
  }
  graph_->graph.replay();
  return clone_prediction(graph_->output);
#else
  return forward(on_device(images), on_device(padding_mask));
#endif
}

}  // namespace rtseg::framework
