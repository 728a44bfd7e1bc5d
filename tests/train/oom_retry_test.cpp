// Out of memory during training, injected: a CPU allocator that throws LibTorch's out-of-memory
// error (the type and message a CUDA OOM has) at the next allocation over a threshold once armed,
// armed by a scheduler when the trainer asks for step k's learning rate -- so the fault lands in
// step k's forward pass, as a real OOM would.
#include <atomic>
#include <cstring>
#include <fstream>

#include <c10/core/CPUAllocator.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/framework/train/trainer.h"
#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/train_test_support.h"

// LibTorch 2.3 made Allocator::allocate non-const.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define RTSEG_ALLOCATE_CONST
#else
#define RTSEG_ALLOCATE_CONST const
#endif

namespace rtseg::framework::train {
namespace {

using ::testing::HasSubstr;

class FailingAllocator final : public c10::Allocator {
 public:
  explicit FailingAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(std::size_t bytes) RTSEG_ALLOCATE_CONST override {
    if (armed_.load() && bytes > threshold_) {
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

  void arm(std::size_t threshold) {
    threshold_ = threshold;
    armed_ = true;
  }
  int faults() const { return faults_.load(); }

 private:
  c10::Allocator* base_;
  std::size_t threshold_ = 0;
  mutable std::atomic<bool> armed_{false};
  mutable std::atomic<int> faults_{0};
};

// Constant learning rate; arms the allocator when step `step` asks for its rate.
class ArmingScheduler final : public sdk::Scheduler {
 public:
  ArmingScheduler(FailingAllocator& allocator, std::int64_t step) : allocator_(allocator), step_(step) {}
  double factor(std::int64_t step, const sdk::ScheduleLength&) const override {
    if (step == step_ && !fired_.exchange(true)) allocator_.arm(1024);
    return 1.0;
  }

 private:
  FailingAllocator& allocator_;
  std::int64_t step_;
  mutable std::atomic<bool> fired_{false};
};

class OomRetry : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    original_ = c10::GetCPUAllocator();
    c10::SetCPUAllocator(&failing_, kPriority);
  }
  void TearDown() override { c10::SetCPUAllocator(original_, kPriority); }

  // A trainer setup as run_pipeline makes it, with the arming scheduler.
  TrainerSetup setup(const std::string& on_oom) {
    LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir_.path(), "", true));
    apply_overrides(recipe.document, {{"train.batch", "4", ""}, {"train.accum", "1", ""}, {"train.epochs", "1", ""},
                                      {"train.ema", "false", ""}, {"train.tensorboard", "false", ""},
                                      {"train.on_oom", "\"" + on_oom + "\"", ""}});
    const Stage stage = expand_stages(recipe).back();
    TrainerSetup s{check_recipe(stage.document, runtime_->registry()), nullptr, nullptr, nullptr,
                   RunFolder::create(dir_.path() / "runs", "train", "test", 64)};
    sdk::BuildContext context;
    context.logger = logger_;
    s.dataset = build_component<sdk::Dataset>(runtime_->registry(), stage.document, *s.recipe.dataset, context);
    s.recipe.model.num_classes = static_cast<std::int64_t>(s.dataset->categories().size());
    apply_overrides(recipe.document, {{"model.num_classes", std::to_string(s.recipe.model.num_classes), ""}});
    const Stage counted = expand_stages(recipe).back();
    s.model = build_model(runtime_->registry(), counted.document, s.recipe, context);
    s.model->train();
    s.scheduler = std::make_shared<ArmingScheduler>(failing_, 1);
    s.logger = logger_;
    std::ostringstream text;
    print_recipe(text, counted.document);
    sdk::write_file_atomically(s.run.recipe(), text.str());
    return s;
  }

  static constexpr std::uint8_t kPriority = 200;
  rtseg::testing::TempDir dir_;
  std::unique_ptr<Runtime> runtime_ = rtseg::testing::make_test_runtime();
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("oom", std::make_shared<spdlog::sinks::null_sink_mt>());
  c10::Allocator* original_ = nullptr;
  FailingAllocator failing_{c10::GetCPUAllocator()};
};

TEST_F(OomRetry, HalvesTheBatchDoublesAccumAndFinishesEveryStep) {
  TrainerSetup s = setup("retry");
  const TrainOutcome outcome = train(s);
  EXPECT_EQ(failing_.faults(), 1);
  // 8 training images, repeated to 5 steps per epoch (RF-DETR's small-dataset rule) at batch 4;
  // step 1 is retried at batch 2 x accum 2, and the epoch still has all its 5 steps.
  EXPECT_EQ(outcome.steps, 5);
  EXPECT_TRUE(std::filesystem::is_regular_file(outcome.last_weights));
  const auto saved = RecipeDocument::parse_file(s.run.recipe(), "recipe.toml");
  EXPECT_EQ(saved.root().at_path("train.batch").value<std::int64_t>(), 2);
  EXPECT_EQ(saved.root().at_path("train.accum").value<std::int64_t>(), 2);
}

TEST_F(OomRetry, WithoutRetryTheRunStopsWithTheSeedsLadder) {
  TrainerSetup s = setup("stop");
  EXPECT_THAT([&] { train(s); }, ::testing::ThrowsMessage<sdk::Error>(HasSubstr("--batch 2 --accum 2")));
  EXPECT_EQ(failing_.faults(), 1);
}

}  // namespace
}  // namespace rtseg::framework::train
