#include "rtseg/framework/train/train_step.h"

#include <cmath>
#include <cstdlib>
#include <optional>

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/gradient_reducer.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/train/grad_clip.h"
#include "rtseg/framework/train/oom_advice.h"

namespace rtseg::framework::train {
namespace {

namespace F = torch::nn::functional;

torch::Tensor nearest(const torch::Tensor& masks, std::int64_t size) {
  // [N, H, W] bool -> [N, size, size] bool
  if (masks.size(0) == 0) return torch::zeros({0, size, size}, masks.options());
  return F::interpolate(masks.unsqueeze(1).to(torch::kFloat),
                        F::InterpolateFuncOptions().size(std::vector<std::int64_t>{size, size}).mode(torch::kNearest))
      .squeeze(1)
      .to(torch::kBool);
}

// The criterion names auxiliary-layer losses "<loss>_<layer>" and proposal losses "<loss>_enc".
bool is_last_layer_loss(const std::string& name) {
  const std::string tail = name.substr(name.rfind('_') + 1);
  if (tail == "enc") return false;
  return tail.find_first_not_of("0123456789") != std::string::npos;
}

}  // namespace

void resize_batch(Batch& batch, std::int64_t size) {
  if (!batch.images.defined() || (batch.images.size(2) == size && batch.images.size(3) == size)) return;
  batch.images = F::interpolate(batch.images, F::InterpolateFuncOptions()
                                                  .size(std::vector<std::int64_t>{size, size})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false));
  batch.padding_mask = nearest(batch.padding_mask, size);
  for (Targets& targets : batch.targets) {
    if (targets.masks.defined()) targets.masks = nearest(targets.masks, size);
  }
}

TrainStep::TrainStep(Parts parts, AmpMode amp, double clip_max_norm, torch::Device device)
    : parts_(parts), amp_(amp), clip_max_norm_(clip_max_norm), device_(device) {
  for (const ParameterGroup& group : *parts_.groups) {
    parameters_.insert(parameters_.end(), group.parameters.begin(), group.parameters.end());
  }
  if (parts_.process_group) {
    // In the model's registration order (the groups' order is by learning rate): the reducer
    // lays its buckets out in reverse, the order backward produces the gradients.
    reducer_ = std::make_unique<distributed::GradientReducer>(parts_.model->parameters(), *parts_.process_group);
    // RTSEG_DIST_OVERLAP=0: average after backward instead (bench/distributed compares the two).
    const char* overlap = std::getenv("RTSEG_DIST_OVERLAP");
    if (overlap && std::string(overlap) == "0") reducer_->set_overlap(false);
  }
}

TrainStep::~TrainStep() = default;

void TrainStep::drop_gradients() {
  // Dropped, not zeroed (torch's set_to_none): gradients do not occupy memory through the next
  // forward pass.
  for (torch::Tensor& parameter : parameters_) parameter.mutable_grad().reset();
}

std::vector<double> TrainStep::objects_over_ranks(const std::vector<Batch>& micro_batches) const {
  if (!parts_.process_group) return {};
  // Host-side counts (tensor shapes): no device sync.
  torch::Tensor counts = torch::zeros({static_cast<std::int64_t>(micro_batches.size())}, torch::kDouble);
  auto* values = counts.data_ptr<double>();
  for (std::size_t m = 0; m < micro_batches.size(); ++m) {
    for (const Targets& targets : micro_batches[m].targets) values[m] += static_cast<double>(targets.labels.size(0));
  }
  parts_.process_group->sum(counts);
  const double world = static_cast<double>(parts_.process_group->world_size());
  std::vector<double> mean(micro_batches.size());
  for (std::size_t m = 0; m < mean.size(); ++m) mean[m] = values[m] / world;
  return mean;
}

void TrainStep::accumulate(std::vector<Batch>& micro_batches, std::int64_t size, const std::vector<double>& objects,
                           at::Generator& generator, torch::Tensor& sums, std::vector<std::string>& names,
                           StepResult& result) {
  Model& model = *parts_.model;
  const double share = 1.0 / static_cast<double>(micro_batches.size());
  std::size_t last_loaded = micro_batches.size();  // the micro-batch whose backward communicates
  for (std::size_t m = 0; m < micro_batches.size(); ++m) {
    if (micro_batches[m].images.defined()) last_loaded = m;
  }
  for (std::size_t m = 0; m < micro_batches.size(); ++m) {
    Batch& batch = micro_batches[m];
    if (!batch.images.defined()) continue;  // every image of it failed to load
    if (size > 0) resize_batch(batch, size);
    const torch::Tensor images = batch.images.to(device_, /*non_blocking=*/true);
    const torch::Tensor padding = batch.padding_mask.to(device_, /*non_blocking=*/true);
    torch::Tensor weighted;
    std::vector<torch::Tensor> parts;
    {
      AutocastScope autocast(amp_);
      const ModelOutputs outputs = model.forward(images, padding);
      observe("forward");
      const criterion::CriterionResult losses =
          (*parts_.criterion)(outputs.detections, outputs.masks ? &*outputs.masks : nullptr, batch.targets, generator,
                              objects.empty() ? std::nullopt : std::optional<double>(objects[m]));
      observe("loss");
      weighted = losses.total;
      if (names.empty()) {
        for (const auto& entry : losses.losses) {
          if (is_last_layer_loss(entry.first)) names.push_back(entry.first);
        }
      }
      parts.push_back(weighted.detach().to(torch::kFloat).reshape({1}));
      for (const std::string& name : names) parts.push_back(losses.loss(name).detach().to(torch::kFloat).reshape({1}));
    }
    const torch::Tensor scaled = parts_.scaler->scale(weighted * share);
    if (reducer_) reducer_->prepare_backward(m == last_loaded, scaled);  // the others only accumulate (no_sync)
    scaled.backward();
    observe("backward");
    const torch::Tensor step_sums = torch::cat(parts) * share;
    sums = sums.defined() ? sums + step_sums : step_sums;
    result.images += batch.images.size(0);
  }
  // The buckets the last backward did not start, the wait, the average (a parameter no rank's
  // batch reached gets zeros). Every rank takes part, also one that loaded nothing.
  if (reducer_) reducer_->finish();
}

StepResult TrainStep::run(std::vector<Batch>& micro_batches, std::int64_t size, double lr_factor,
                          at::Generator& generator) {
  StepResult result;
  parts_.model->train();
  drop_gradients();
  const std::vector<double> objects = objects_over_ranks(micro_batches);

  // Detached per-step sums, read once at the end: [total, loss_1, ..., loss_k].
  torch::Tensor sums;
  std::vector<std::string> names;
  try {
    accumulate(micro_batches, size, objects, generator, sums, names, result);
  } catch (const std::exception& error) {
    if (!reducer_ || !is_out_of_memory(error.what())) throw;
    // The graph is gone with the exception; take part in what the other ranks still run.
    result.out_of_memory_error = error.what();
    sums = torch::Tensor();
    reducer_->abandon();
  }
  if (!sums.defined() && !reducer_) return result;  // nothing loaded in this step

  const bool local_out_of_memory = !result.out_of_memory_error.empty();
  const bool finite_grads = !local_out_of_memory && parts_.scaler->unscale(parameters_);
  if (sums.defined()) {
    const torch::Tensor host = sums.cpu();  // the step's one read of losses
    const float* values = host.data_ptr<float>();
    result.total_loss = values[0];
    for (std::size_t i = 0; i < names.size(); ++i) result.losses.emplace_back(names[i], values[i + 1]);
  }

  bool apply = finite_grads && std::isfinite(result.total_loss);
  if (parts_.process_group) {
    // One vote for both questions: did a rank run out of memory, did a rank see a non-finite value.
    torch::Tensor votes = torch::tensor({local_out_of_memory ? 1.0 : 0.0, apply ? 0.0 : 1.0}, torch::kDouble);
    parts_.process_group->sum(votes);
    if (votes[0].item<double>() > 0) {
      drop_gradients();
      result.out_of_memory = true;
      result.total_loss = 0;
      result.losses.clear();
      return result;
    }
    apply = votes[1].item<double>() == 0;  // the ranks must agree
  }
  if (apply) {
    if (clip_max_norm_ > 0) {
      result.grad_norm = clip_gradient_norm(parameters_, clip_max_norm_);
    }
    set_learning_rates(*parts_.optimizer, *parts_.groups, lr_factor);
    parts_.optimizer->step();
    result.applied = true;
    if (parts_.ema) parts_.ema->update();
  }
  parts_.scaler->update();
  observe("optimizer");
  return result;
}

}  // namespace rtseg::framework::train
