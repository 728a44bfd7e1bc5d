// Where a training step's memory goes: runs one step of a recipe's model on synthetic data,
// component by component (backbone, decoder, segmentation head, criterion, backward, optimizer),
// and prints how many bytes each part leaves held -- the activations autograd keeps for the
// backward pass -- and the peak within it.
//
//   rtseg_bench_memory_breakdown --size nano --batch 2 --resolution 384        # CPU
//   rtseg_bench_memory_breakdown --device cuda --size nano --batch 1,8
//
// On a GPU the CUDA caching allocator's statistics are read; on the CPU a counting allocator is
// installed for the run (tensor bytes, not the process's resident set), so both report the bytes
// tensors hold. CPU runs have no AMP unless --amp asks for it.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "bench_support.h"
#include "rtseg/framework/criterion/set_criterion.h"
#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/device_generator.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/optimizer.h"
#include "rtseg/framework/train/pipeline.h"

// LibTorch 2.3 made Allocator::allocate non-const.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define RTSEG_ALLOCATE_CONST
#else
#define RTSEG_ALLOCATE_CONST const
#endif

namespace {

using namespace rtseg;
constexpr double kMiB = 1024.0 * 1024.0;

// Counts the bytes of live CPU tensors allocated while it is installed. LibTorch wants a CPU
// pointer to be its own deleter context (raw_allocate), so sizes are kept in a side table.
class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* base) : base_(base) { instance_ = this; }

  c10::DataPtr allocate(std::size_t bytes) RTSEG_ALLOCATE_CONST override {
    c10::DataPtr inner = base_->allocate(bytes);
    void* data = inner.get();
    TORCH_CHECK(inner.get_deleter() == base_->raw_deleter() && inner.get_context() == data,
                "counting allocator: the CPU allocator's pointers are not their own context");
    inner.release_context();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[data] = bytes;
    }
    add(static_cast<std::int64_t>(bytes));
    return {data, data, &release, c10::Device(c10::kCPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* destination, const void* source, std::size_t count) const {
    std::memcpy(destination, source, count);
  }

  std::int64_t current() const { return current_.load(); }
  std::int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_ = current_.load(); }

 private:
  static void release(void* data) {
    CountingAllocator* self = instance_;
    std::size_t bytes = 0;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      const auto it = self->sizes_.find(data);
      if (it != self->sizes_.end()) {
        bytes = it->second;
        self->sizes_.erase(it);
      }
    }
    self->add(-static_cast<std::int64_t>(bytes));
    self->base_->raw_deleter()(data);
  }
  void add(std::int64_t bytes) const {
    const std::int64_t now = current_.fetch_add(bytes) + bytes;
    std::int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }

  static inline CountingAllocator* instance_ = nullptr;
  c10::Allocator* base_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::size_t> sizes_;
  mutable std::atomic<std::int64_t> current_{0};
  mutable std::atomic<std::int64_t> peak_{0};
};

// Reads held/peak bytes on either device.
struct Meter {
  c10::Device device;
  CountingAllocator* counter = nullptr;
  std::int64_t current() const { return counter ? counter->current() : framework::current_memory(device); }
  std::int64_t peak() const { return counter ? counter->peak() : framework::peak_memory(device).allocated; }
  void reset() {
    framework::synchronize(device);
    if (counter) counter->reset_peak(); else framework::reset_peak_memory(device);
  }
};

framework::Batch synthetic_batch(std::int64_t batch, std::int64_t side, std::int64_t objects, std::int64_t classes,
                                 bool masks) {
  torch::manual_seed(0);
  framework::Batch out;
  out.images = torch::randn({batch, 3, side, side});
  out.padding_mask = torch::zeros({batch, side, side}, torch::kBool);
  for (std::int64_t b = 0; b < batch; ++b) {
    framework::Targets targets;
    targets.labels = torch::randint(0, std::max<std::int64_t>(classes, 1), {objects}, torch::kLong);
    targets.boxes = torch::cat({torch::rand({objects, 2}) * 0.6 + 0.2, torch::rand({objects, 2}) * 0.3 + 0.05}, 1);
    if (masks) targets.masks = torch::rand({objects, side, side}) > 0.7;
    targets.record.id = b;
    targets.record.width = targets.record.height = side;
    out.targets.push_back(std::move(targets));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Where a training step's memory goes, component by component"};
  std::string recipe_file, size = "nano", batches = "2", device_name = "cpu", amp;
  std::int64_t resolution = 384, objects = 6, threads = 0;
  std::vector<std::string> overrides;
  app.add_option("--recipe", recipe_file, "Recipe (default: the shipped single-stage segmentation pipeline)");
  app.add_option("--size", size, "Size variant");
  app.add_option("--batch", batches, "Batch sizes, comma-separated");
  app.add_option("--resolution", resolution, "Square input side");
  app.add_option("--device", device_name, "cpu, cuda or cuda:N");
  app.add_option("--amp", amp, "auto, bf16, fp16 or off (default: the recipe's)");
  app.add_option("--objects", objects, "Objects per synthetic image");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--set", overrides, "Recipe override KEY=VALUE (repeatable)");
  CLI11_PARSE(app, argc, argv);

  try {
    bench::set_threads(threads);
    const torch::Device device = framework::train::resolve_device(device_name);
    const auto runtime = bench::quiet_runtime();
    if (!amp.empty()) overrides.push_back("train.amp=\"" + amp + "\"");
    const auto stages = bench::load_stages(recipe_file, size, overrides);
    const framework::Stage& stage = stages.back();
    const framework::CheckedRecipe recipe = framework::check_recipe(stage.document, runtime->registry());

    CountingAllocator counting(c10::GetCPUAllocator());
    c10::Allocator* original = c10::GetCPUAllocator();
    if (!device.is_cuda()) c10::SetCPUAllocator(&counting, /*priority=*/100);
    Meter meter{device, device.is_cuda() ? nullptr : &counting};

    sdk::BuildContext context;
    context.device = device;
    context.logger = framework::make_logger("breakdown", "warn");
    auto model = framework::build_model(runtime->registry(), stage.document, recipe, context);
    framework::train::apply_freeze(*model, stage.freeze, *context.logger);
    auto groups = framework::train::parameter_groups(*model, recipe.train);
    auto optimizer = framework::train::make_adamw(groups);
    std::unique_ptr<framework::train::ModelEma> ema;  // as the run would: only when the recipe asks
    if (recipe.train.ema) ema = std::make_unique<framework::train::ModelEma>(*model, recipe.train.ema_decay, recipe.train.ema_tau);
    const auto amp_mode = framework::train::resolve_amp(recipe.train.amp, device);
    framework::criterion::SetCriterion criterion(recipe.train.loss, recipe.train.matcher);
    at::Generator generator = framework::make_generator(1, device);
    model->train();

    std::printf("%s %s @%lld, amp %s, device %s (MiB; 'held' = bytes still held after the part)\n",
                stage.name.c_str(), recipe.model.size.c_str(), static_cast<long long>(resolution),
                framework::train::to_string(amp_mode).c_str(), device.str().c_str());
    for (const std::int64_t batch : bench::int_list(batches)) {
      for (int repeat = 0; repeat < 2; ++repeat) {  // the second step has the optimizer state
        for (auto& parameter : model->parameters()) parameter.mutable_grad().reset();
        const framework::Batch data = synthetic_batch(batch, resolution, objects, recipe.model.num_classes,
                                                      model->seg_head() != nullptr);
        const torch::Tensor images = data.images.to(device);
        std::vector<torch::Tensor> parts_held;
        std::vector<std::pair<std::string, std::pair<double, double>>> rows;
        meter.reset();
        std::int64_t before = meter.current();
        const auto mark = [&](const std::string& name) {
          framework::synchronize(device);
          const std::int64_t now = meter.current();
          rows.push_back({name, {(now - before) / kMiB, (meter.peak() - before) / kMiB}});
          before = now;
          meter.reset();
        };
        rows.push_back({ema ? "state (weights, AdamW, EMA)" : "state (weights, AdamW)", {before / kMiB, before / kMiB}});
        torch::Tensor total;
        {
          framework::train::AutocastScope autocast(amp_mode);
          std::vector<torch::Tensor> features;
          sdk::DecoderOutputs decoded;
          {
            std::optional<torch::NoGradGuard> no_grad;
            if (model->detector_frozen()) no_grad.emplace();
            features = model->backbone().forward(images);
            mark("backbone + projector");
            std::vector<torch::Tensor> masks;
            for (const auto& f : features) masks.push_back(torch::zeros({f.size(0), f.size(2), f.size(3)}, f.options().dtype(torch::kBool)));
            decoded = model->decoder().forward(features, masks);
            mark("decoder (all groups)");
          }
          std::optional<sdk::MaskOutputs> mask_outputs;
          if (model->seg_head()) {
            mask_outputs = model->seg_head()->forward(images, features, decoded);
            mark("segmentation head");
          }
          std::vector<framework::Targets> targets = data.targets;
          const auto losses = criterion(decoded, mask_outputs ? &*mask_outputs : nullptr, targets, generator);
          total = losses.total;
          mark("criterion (matching, losses)");
        }
        total.backward();
        total = torch::Tensor();
        mark("backward");
        optimizer->step();
        if (ema) ema->update();
        mark(ema ? "optimizer + EMA" : "optimizer");
        if (repeat == 1) {
          std::printf("batch %lld\n", static_cast<long long>(batch));
          for (const auto& [name, values] : rows) {
            std::printf("  %-30s held %+9.1f  peak within %+9.1f\n", name.c_str(), values.first, values.second);
          }
        }
      }
    }
    if (!device.is_cuda()) c10::SetCPUAllocator(original, 100);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
