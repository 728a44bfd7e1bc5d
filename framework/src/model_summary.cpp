#include "rtseg/framework/model_summary.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

namespace rtseg::framework {
namespace {

ComponentSummary count(const std::string& kind, torch::nn::Module& component, const std::string& prefix) {
  ComponentSummary summary{kind, prefix, 0, 0, 0};
  for (const auto& parameter : component.parameters()) {
    summary.total += parameter.numel();
    if (parameter.requires_grad()) summary.trainable += parameter.numel();
  }
  summary.inference = summary.total;
  return summary;
}

double profile_forward_flops(Model& model, std::int64_t resolution) {
  namespace profiler = torch::autograd::profiler;
  const auto parameters = model.parameters();
  const auto device = parameters.empty() ? torch::Device(torch::kCPU) : parameters[0].device();
  const torch::Tensor image = torch::zeros({1, 3, resolution, resolution}, torch::TensorOptions().device(device));
  torch::NoGradGuard no_grad;
  profiler::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(
      torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true,
      /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/true));
  model.forward(image);
  double flops = 0;
  for (auto& thread_events : profiler::disableProfilerLegacy()) {
    for (auto& event : thread_events) flops += static_cast<double>(event.flops());
  }
  return flops;
}

}  // namespace

ModelSummary summarize_model(Model& model, std::int64_t resolution) {
  ModelSummary summary;
  summary.resolution = resolution;
  summary.components.push_back(count("backbone", model.backbone(), model.backbone().state_prefix()));
  ComponentSummary decoder = count("decoder", model.decoder(), model.decoder().state_prefix());
  decoder.inference -= model.decoder().training_only_parameter_count();
  summary.components.push_back(decoder);
  if (sdk::SegHead* head = model.seg_head()) {
    summary.components.push_back(count("seg_head", *head, head->state_prefix()));
  }
  for (const auto& component : summary.components) {
    summary.total += component.total;
    summary.trainable += component.trainable;
    summary.inference += component.inference;
  }
  model.eval();
  summary.outputs = probe_model(model, resolution);
  summary.forward_flops = profile_forward_flops(model, resolution);
  return summary;
}

}  // namespace rtseg::framework
