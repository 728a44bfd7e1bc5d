// Out of memory during training, injected: a CPU allocator that throws LibTorch's out-of-memory
// error (the type and message a CUDA OOM has) at the next allocation over a threshold once armed,
// armed by a scheduler when the trainer asks for step k's learning rate -- so the fault lands in
// step k's forward pass, as a real OOM would. A condition given with arm() holds the fault back
// until it is true (a later phase of the step).
#pragma once

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include <c10/core/CPUAllocator.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/framework/train/trainer.h"
#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/scheduler.h"
#include "train/train_test_support.h"

// LibTorch 2.3 made Allocator::allocate non-const.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define RTSEG_ALLOCATE_CONST
#else
#define RTSEG_ALLOCATE_CONST const
#endif

namespace rtseg::testing {

class FailingAllocator final : public c10::Allocator {
 public:
  explicit FailingAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(std::size_t bytes) RTSEG_ALLOCATE_CONST override {
    if (armed_.load() && bytes > threshold_ && (!when_ || when_())) {
      armed_ = false;  // one fault
      ++faults_;
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate ", bytes,
                       " bytes (injected by the test)");
    }
    return base_->allocate(bytes);
  }
  c10::DeleterFnPtr raw_deleter() const override { return base_->raw_deleter(); }
  // Pure virtual from LibTorch 2.3 on; a plain member before.
  void copy_data(void* destination, const void* source, std::size_t count) const {
    std::memcpy(destination, source, count);
  }

  /// Set before arming, on the thread that arms: `when` is read, never written, while armed.
  void arm(std::size_t threshold, std::function<bool()> when = {}) {
    threshold_ = threshold;
    when_ = std::move(when);
    armed_ = true;
  }
  int faults() const { return faults_.load(); }

 private:
  c10::Allocator* base_;
  std::size_t threshold_ = 0;
  std::function<bool()> when_;
  mutable std::atomic<bool> armed_{false};
  mutable std::atomic<int> faults_{0};
};

/// Installs a FailingAllocator as LibTorch's CPU allocator while it lives.
class FailingAllocatorScope {
 public:
  FailingAllocatorScope() : original_(c10::GetCPUAllocator()), failing_(original_) {
    c10::SetCPUAllocator(&failing_, kPriority);
  }
  ~FailingAllocatorScope() { c10::SetCPUAllocator(original_, kPriority); }
  FailingAllocatorScope(const FailingAllocatorScope&) = delete;
  FailingAllocatorScope& operator=(const FailingAllocatorScope&) = delete;
  FailingAllocator& allocator() { return failing_; }

 private:
  static constexpr std::uint8_t kPriority = 200;
  c10::Allocator* original_;
  FailingAllocator failing_;
};

/// Constant learning rate; arms the allocator (when given) as step `step` asks for its rate, with
/// the condition `make_when()` returns then (none: the fault lands in that step's forward pass).
class ArmingScheduler final : public sdk::Scheduler {
 public:
  ArmingScheduler(FailingAllocator* allocator, std::int64_t step,
                  std::function<std::function<bool()>()> make_when = {})
      : allocator_(allocator), step_(step), make_when_(std::move(make_when)) {}
  double factor(std::int64_t step, const sdk::ScheduleLength&) const override {
    if (allocator_ && step == step_ && !fired_.exchange(true)) {
      allocator_->arm(1024, make_when_ ? make_when_() : std::function<bool()>());
    }
    return 1.0;
  }

 private:
  FailingAllocator* allocator_;
  std::int64_t step_;
  std::function<std::function<bool()>()> make_when_;
  mutable std::atomic<bool> fired_{false};
};

/// A trainer setup as run_pipeline makes it -- the tiny segmentation recipe, batch 4, one epoch
/// (8 images, repeated to 5 steps), no EMA -- with `scheduler`, under `dir`.
inline framework::train::TrainerSetup oom_trainer_setup(framework::Runtime& runtime, const std::filesystem::path& dir,
                                                        const std::string& on_oom,
                                                        std::shared_ptr<const sdk::Scheduler> scheduler,
                                                        std::shared_ptr<spdlog::logger> logger) {
  using namespace rtseg::framework;
  LoadedRecipe recipe = loaded(tiny_recipe(dir, "", true));
  apply_overrides(recipe.document, {{"train.batch", "4", ""}, {"train.accum", "1", ""}, {"train.epochs", "1", ""},
                                    {"train.ema", "false", ""}, {"train.tensorboard", "false", ""},
                                    {"train.on_oom", "\"" + on_oom + "\"", ""}});
  const Stage stage = expand_stages(recipe).back();
  train::TrainerSetup s{check_recipe(stage.document, runtime.registry()), nullptr, nullptr, nullptr,
                        train::RunFolder::create(dir / "runs", "train", "test", 64), torch::kCPU, logger};
  sdk::BuildContext context;
  context.logger = logger;
  s.dataset = build_component<sdk::Dataset>(runtime.registry(), stage.document, *s.recipe.dataset, context);
  s.recipe.model.num_classes = static_cast<std::int64_t>(s.dataset->categories().size());
  apply_overrides(recipe.document, {{"model.num_classes", std::to_string(s.recipe.model.num_classes), ""}});
  const Stage counted = expand_stages(recipe).back();
  s.model = build_model(runtime.registry(), counted.document, s.recipe, context);
  s.model->train();
  s.scheduler = std::move(scheduler);
  std::ostringstream text;
  print_recipe(text, counted.document);
  sdk::write_file_atomically(s.run.recipe(), text.str());
  return s;
}

}  // namespace rtseg::testing
