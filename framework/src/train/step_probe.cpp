#include "rtseg/framework/train/step_probe.h"

#include <algorithm>
#include <chrono>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "rtseg/framework/criterion/set_criterion.h"
#include "rtseg/framework/device_generator.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/optimizer.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/train_step.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {
namespace {

// A batch of noise images with `objects` random boxes each; with masks, each object's mask is
// its box filled. Labels are drawn from the model's classes.
Batch synthetic_batch(std::int64_t batch, std::int64_t side, std::int64_t objects, std::int64_t classes,
                      bool masks, bool pin, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  Batch out;
  out.images = torch::randn({batch, 3, side, side}, generator, torch::TensorOptions());
  out.padding_mask = torch::zeros({batch, side, side}, torch::kBool);
  for (std::int64_t b = 0; b < batch; ++b) {
    Targets targets;
    targets.labels = torch::randint(0, std::max<std::int64_t>(classes, 1), {objects}, generator, torch::kLong);
    const torch::Tensor centres = torch::rand({objects, 2}, generator, torch::TensorOptions()) * 0.6 + 0.2;
    const torch::Tensor sizes = torch::rand({objects, 2}, generator, torch::TensorOptions()) * 0.3 + 0.05;
    targets.boxes = torch::cat({centres, sizes}, 1);
    if (masks) {
      targets.masks = torch::zeros({objects, side, side}, torch::kBool);
      const auto box = targets.boxes.accessor<float, 2>();
      for (std::int64_t o = 0; o < objects; ++o) {
        const auto lo = [&](int c) { return static_cast<std::int64_t>((box[o][c] - box[o][c + 2] / 2) * side); };
        const auto hi = [&](int c) { return static_cast<std::int64_t>((box[o][c] + box[o][c + 2] / 2) * side) + 1; };
        using torch::indexing::Slice;
        targets.masks.index_put_({o, Slice(lo(1), hi(1)), Slice(lo(0), hi(0))}, true);
      }
    }
    targets.record.id = b;
    targets.record.width = side;
    targets.record.height = side;
    out.targets.push_back(std::move(targets));
  }
  if (pin) {
    out.images = out.images.pin_memory();
    out.padding_mask = out.padding_mask.pin_memory();
  }
  return out;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

ProbeResult probe_train_step(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                             const c10::Device& device, const ProbeSettings& settings) {
  if (settings.batch < 1 || settings.timed_steps < 1 || settings.warmup_steps < 0) {
    throw sdk::Error("train-step probe: batch and timed steps must be at least 1");
  }
  const TrainOptions& options = recipe.train;
  const std::int64_t side = settings.resolution > 0 ? settings.resolution : recipe.model.resolution;
  auto quiet = std::make_shared<spdlog::logger>("probe", std::make_shared<spdlog::sinks::null_sink_mt>());

  synchronize(device);
  reset_peak_memory(device);
  sdk::BuildContext context;
  context.device = device;
  context.logger = quiet;
  auto model = build_model(registry, stage.document, recipe, context);
  apply_freeze(*model, stage.freeze, *quiet);
  std::vector<ParameterGroup> groups = parameter_groups(*model, options);
  auto optimizer = make_adamw(groups);
  const AmpMode amp = resolve_amp(options.amp, device);
  LossScaler scaler(amp == AmpMode::kFp16, device);
  std::unique_ptr<ModelEma> ema;
  if (options.ema) ema = std::make_unique<ModelEma>(*model, options.ema_decay, options.ema_tau);
  const bool checkpointing = options.gradient_checkpointing && model->backbone().set_gradient_checkpointing(true);
  criterion::SetCriterion criterion(options.loss, options.matcher);
  TrainStep step({model.get(), &criterion, optimizer.get(), &groups, &scaler, ema.get()}, amp,
                 options.clip_max_norm, device);

  ProbeResult result;
  result.batch = settings.batch;
  result.resolution = side;
  result.amp = to_string(amp);
  result.gradient_checkpointing = checkpointing;
  result.parameter_groups = static_cast<std::int64_t>(groups.size());
  for (const ParameterGroup& group : groups) {
    for (const torch::Tensor& parameter : group.parameters) result.trainable_parameters += parameter.numel();
  }
  synchronize(device);
  result.held = peak_memory(device);

  const std::int64_t classes = recipe.model.num_classes;
  const Batch batch = synthetic_batch(settings.batch, side, settings.objects_per_image, classes,
                                      model->seg_head() != nullptr, device.is_cuda(), settings.seed);
  at::Generator generator = make_generator(settings.seed + 1, device);

  bool timing = false;
  std::size_t phase_index = 0;
  auto phase_start = std::chrono::steady_clock::now();
  step.set_phase_observer([&](const char* phase) {
    if (!timing) return;
    synchronize(device);
    const auto now = std::chrono::steady_clock::now();
    const MemoryPeak peak = peak_memory(device);
    if (phase_index == result.phases.size()) {
      result.phases.emplace_back(phase, MemoryPeak{});
      result.phase_ms.emplace_back(phase, 0.0);
    }
    auto& slot = result.phases[phase_index];
    slot.second = slot.second.max(peak);
    result.phase_ms[phase_index++].second +=
        std::chrono::duration<double, std::milli>(now - phase_start).count() / static_cast<double>(settings.timed_steps);
    result.peak = result.peak.max(peak);
    reset_peak_memory(device);
    phase_start = std::chrono::steady_clock::now();
  });
  std::vector<double> step_ms;
  for (std::int64_t s = 0; s < settings.warmup_steps + settings.timed_steps; ++s) {
    timing = s >= settings.warmup_steps;
    std::vector<Batch> micro_batches{batch};  // a shallow copy: the step may resize it
    synchronize(device);
    if (timing) reset_peak_memory(device);
    phase_index = 0;
    const auto start = std::chrono::steady_clock::now();
    phase_start = start;
    step.run(micro_batches, 0, 1.0, generator);
    synchronize(device);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (timing) step_ms.push_back(ms);
  }
  result.step_ms = median(step_ms);
  result.images_per_second = 1000.0 * static_cast<double>(settings.batch) / result.step_ms;
  return result;
}

}  // namespace rtseg::framework::train
