#include "rtseg/framework/train/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/sample_transform.h"
#include "rtseg/framework/train/oom_advice.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {
namespace {

// Batches the recommendation considers (beyond these, memory is rarely the limit).
constexpr std::int64_t kLargestBatch = 256;

}  // namespace

double MemoryFit::predict(std::int64_t batch, std::int64_t side) const {
  const double scale = resolution > 0 ? std::pow(static_cast<double>(side) / static_cast<double>(resolution), exponent) : 1;
  return fixed_bytes + per_image_bytes * static_cast<double>(batch) * scale;
}

MemoryFit fit_memory(const std::vector<MemorySample>& samples) {
  std::map<std::int64_t, std::vector<const MemorySample*>> by_resolution;
  for (const MemorySample& sample : samples) by_resolution[sample.resolution].push_back(&sample);
  const auto main = std::max_element(by_resolution.begin(), by_resolution.end(), [](const auto& a, const auto& b) {
    return a.second.size() < b.second.size();
  });
  if (main == by_resolution.end() || main->second.size() < 2) {
    throw sdk::Error("memory plan: at least two batch sizes must be measured at one resolution");
  }
  // Least squares of peak over batch.
  double n = 0, sb = 0, sp = 0, sbb = 0, sbp = 0;
  for (const MemorySample* s : main->second) {
    const double b = static_cast<double>(s->batch), p = static_cast<double>(s->peak_bytes);
    n += 1, sb += b, sp += p, sbb += b * b, sbp += b * p;
  }
  const double denominator = n * sbb - sb * sb;
  if (denominator <= 0) throw sdk::Error("memory plan: the measured batch sizes must differ");
  MemoryFit fit;
  fit.resolution = main->first;
  fit.per_image_bytes = std::max(0.0, (n * sbp - sb * sp) / denominator);
  fit.fixed_bytes = (sp - fit.per_image_bytes * sb) / n;

  // Exponent: per-image memory at another side relative to the main one, averaged over samples.
  double exponents = 0;
  int count = 0;
  for (const auto& [side, points] : by_resolution) {
    if (side == main->first || fit.per_image_bytes <= 0) continue;
    for (const MemorySample* s : points) {
      const double per_image = (static_cast<double>(s->peak_bytes) - fit.fixed_bytes) / static_cast<double>(s->batch);
      if (per_image <= 0) continue;
      exponents += std::log(per_image / fit.per_image_bytes) / std::log(static_cast<double>(side) / main->first);
      ++count;
    }
  }
  if (count > 0) fit.exponent = std::clamp(exponents / count, 1.0, 3.0);
  return fit;
}

Plan make_plan(const PlanOptions& options,
               const std::function<MemorySample(std::int64_t batch, std::int64_t resolution)>& measure) {
  Plan plan;
  plan.resolution = options.resolution;
  plan.size_divisibility = options.size_divisibility;
  for (const std::int64_t batch : options.measure_batches) {
    const MemorySample sample = measure(batch, options.resolution);
    if (sample.peak_bytes <= 0) break;  // out of memory: larger batches will not fit either
    plan.measured.push_back(sample);
  }
  if (plan.measured.empty()) {
    plan.fits_at_batch_1 = false;
    return plan;
  }
  if (plan.measured.size() < 2) {  // batch 2 did not fit: nothing to extrapolate from
    plan.fits_at_batch_1 = options.budget_bytes <= 0 || plan.measured.front().peak_bytes <= options.budget_bytes;
    plan.batch = plan.fits_at_batch_1 ? 1 : 0;
    plan.accum = std::max<std::int64_t>(1, options.effective_batch);
    return plan;
  }
  std::int64_t second = options.second_resolution;
  if (second == 0) {
    const std::int64_t d = std::max<std::int64_t>(1, options.size_divisibility);
    second = std::max(d, (options.resolution * 3 / 4) / d * d);
  }
  if (second > 0 && second != options.resolution) {
    const MemorySample sample = measure(plan.measured.back().batch, second);
    if (sample.peak_bytes > 0) plan.measured.push_back(sample);
  }
  plan.fit = fit_memory(plan.measured);

  if (options.budget_bytes <= 0) return plan;
  const double usable = static_cast<double>(options.budget_bytes) * (1.0 - options.headroom);
  for (std::int64_t batch = 1; batch <= kLargestBatch; ++batch) {
    if (plan.fit.predict(batch, options.resolution) > usable) break;
    plan.batch = batch;
    if (batch >= options.effective_batch) break;  // no need to go beyond the recipe's batch
  }
  // The largest batch that fits and divides the effective batch, so batch x accum stays exact.
  while (plan.batch > 1 && options.effective_batch % plan.batch != 0) --plan.batch;
  plan.fits_at_batch_1 = plan.batch >= 1;
  if (plan.batch >= 1) plan.accum = std::max<std::int64_t>(1, options.effective_batch / plan.batch);
  return plan;
}

Plan plan_stage(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                const c10::Device& device, std::int64_t budget_bytes,
                const std::function<void(const MemorySample&)>& on_sample) {
  // The backbone's size divisibility decides the multi-scale sizes; a CPU build is cheap.
  sdk::BuildContext context;
  context.logger = std::make_shared<spdlog::logger>("plan", std::make_shared<spdlog::sinks::null_sink_mt>());
  const std::int64_t divisibility = build_model(registry, stage.document, recipe, context)->backbone().size_divisibility();
  PlanOptions options;
  options.resolution = recipe.model.resolution;
  if (recipe.train.multi_scale) {
    const auto sizes = multi_scale_sizes(options.resolution, recipe.train.expanded_scales, divisibility, 1);
    if (!sizes.empty()) options.resolution = sizes.back();
  }
  options.size_divisibility = divisibility;
  options.budget_bytes = budget_bytes > 0 ? budget_bytes : total_memory(device);
  options.effective_batch = recipe.train.batch * recipe.train.accum;
  return make_plan(options, [&](std::int64_t batch, std::int64_t side) {
    ProbeSettings settings;
    settings.batch = batch;
    settings.resolution = side;
    settings.warmup_steps = 1;
    settings.timed_steps = 2;
    MemorySample sample{batch, side, 0, 0};
    try {
      const ProbeResult result = probe_train_step(registry, stage, recipe, device, settings);
      sample.peak_bytes = result.peak.allocated;
      sample.step_ms = result.step_ms;
    } catch (const std::exception& error) {
      if (!is_out_of_memory(error.what())) throw;
    }
    release_cached_memory(device);
    if (on_sample) on_sample(sample);
    return sample;
  });
}

MemoryNeed memory_need(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                       const c10::Device& device, std::int64_t batch) {
  const double total = static_cast<double>(total_memory(device));
  const std::string has = fmt::format("{} has {:.1f} GiB", device.is_cuda() ? "this GPU" : "this machine",
                                      total / (1 << 30));
  const std::int64_t side = recipe.model.resolution;
  const std::string what = fmt::format("batch {} at resolution {}", batch, side);
  // Activations take many times the input: a probe whose input is already a large share of the
  // memory would itself exhaust it (on the CPU, the system's out-of-memory killer).
  const double image = 3.0 * static_cast<double>(side) * static_cast<double>(side) * 4.0;
  if (image * 20 > total) {
    const double images = image * static_cast<double>(batch) / (1 << 30);
    return {fmt::format("{} needs more than {:.1f} GiB; {}", what, images, has)};
  }
  const Plan plan = plan_stage(registry, stage, recipe, device, 0);
  if (plan.measured.empty()) return {fmt::format("{}: even batch 1 does not fit; {}", what, has)};
  const double need = plan.measured.size() >= 2
                          ? plan.fit.predict(batch, plan.resolution)
                          : static_cast<double>(plan.measured.front().peak_bytes) * static_cast<double>(batch);
  MemoryNeed result{fmt::format("{} needs about {:.1f} GiB; {}", what, need / (1 << 30), has)};
  if (plan.batch >= 1 && plan.batch < batch) result.fits_batch = plan.batch, result.fits_accum = plan.accum;
  return result;
}

}  // namespace rtseg::framework::train
