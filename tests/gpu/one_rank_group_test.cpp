// The NCCL path on a machine with one GPU: a one-rank group that still runs every collective
// (ProcessGroup's collectives_when_alone), so that NCCL's communicators, its stream and the
// gradient reducer's CUDA buckets are exercised where two ranks cannot be (NCCL refuses two ranks
// on one device). The NCCL cases skip without a CUDA device or on a build without NCCL
// (bench/gpu/run.sh runs them); the same cases over Gloo on the CPU run everywhere.
#include <cstdio>
#include <filesystem>
#include <ostream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/gradient_reducer.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/train_test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

struct Case {
  const char* name;
  Backend backend;
  torch::DeviceType device;
};

// gtest would print the struct's bytes, padding included (valgrind flags those as uninitialised).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class OneRankGroup : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().device == torch::kCUDA && !torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    if (GetParam().backend == Backend::kNccl && !nccl_available()) {
      GTEST_SKIP() << "this build has no NCCL (a CUDA LibTorch with ProcessGroupNCCL)";
    }
    WorldInfo world;
    world.master_port = rtseg::testing::free_port();
    group_ = std::make_unique<ProcessGroup>(world, std::chrono::seconds(60), GetParam().backend,
                                            /*collectives_when_alone=*/true);
  }
  torch::Device device() const { return torch::Device(GetParam().device); }
  // Declared first, so destroyed last: as in rtseg itself, the plugins stay loaded until the
  // process group (and whatever its backend still holds from a training run) is gone.
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<ProcessGroup> group_;
};

TEST_P(OneRankGroup, CollectivesGiveTheirValues) {
  const torch::Tensor values = torch::arange(1000, torch::TensorOptions(device()).dtype(torch::kFloat));
  torch::Tensor summed = values.clone();
  PendingCollective pending = group_->start_sum(summed);
  EXPECT_TRUE(pending.started());
  pending.wait();
  EXPECT_TRUE(torch::equal(summed, values));  // the sum over one rank

  std::vector<torch::Tensor> averaged{values.clone(), values.to(torch::kDouble) * 2};
  group_->average(averaged);
  EXPECT_TRUE(torch::equal(averaged[0], values));
  EXPECT_TRUE(torch::allclose(averaged[1], values.to(torch::kDouble) * 2));

  torch::Tensor broadcast = values.clone();
  group_->broadcast({broadcast});
  EXPECT_TRUE(torch::equal(broadcast, values));
  EXPECT_GE(group_->collectives_started(), 4);
  EXPECT_FALSE(group_->any(false));  // the CPU-side votes go through Gloo
  EXPECT_TRUE(group_->any(true));
}

TEST_P(OneRankGroup, GradientReducerOverlapsBackwardAndKeepsTheGradients) {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(64, 256), torch::nn::ReLU(), torch::nn::Linear(256, 64),
                              torch::nn::ReLU(), torch::nn::Linear(64, 8));
  model->to(device());
  const torch::Tensor x = torch::randn({32, 64}, device());
  model->forward(x).square().mean().backward();
  std::vector<torch::Tensor> expected;
  for (const auto& p : model->parameters()) expected.push_back(p.grad().clone());
  for (auto& p : model->parameters()) p.mutable_grad().reset();

  GradientReducer reducer(model->parameters(), *group_, /*bucket_bytes=*/16 << 10);  // several buckets
  const torch::Tensor loss = model->forward(x).square().mean();
  reducer.prepare_backward(true, loss);
  loss.backward();
  reducer.finish();
  EXPECT_GT(reducer.bucket_count(), 1);
  EXPECT_GT(reducer.started_during_backward(), 0);
  const auto parameters = model->parameters();
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    EXPECT_TRUE(torch::allclose(parameters[i].grad(), expected[i], 1e-6, 1e-7)) << "parameter " << i;
  }
}

// Recomputation on for both devices (the CPU's default is off), so that the gradient reducer's
// hooks also fire inside recomputed pieces. The "[diagnostic]" lines place a crash in the GPU
// machine's log, which has no debugger.
TEST_P(OneRankGroup, TheTrainerRunsItsSteps) {
  rtseg::testing::TempDir dir;
  LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(dir.path() / "runs", "", true));
  apply_overrides(recipe.document, {{"train.device", "\"" + device().str() + "\"", ""}, {"train.batch", "2", ""},
                                    {"train.epochs", "1", ""}, {"train.max_steps", "3", ""},
                                    {"train.tensorboard", "false", ""},
                                    {"model.backbone.recompute", "\"always\"", ""},
                                    {"model.decoder.recompute", "\"always\"", ""}});
  runtime_ = rtseg::testing::make_test_runtime();
  train::PipelineOptions options;
  options.process_group = group_.get();
  const auto runs = train::run_pipeline(*runtime_, recipe, options);
  std::fprintf(stderr, "[diagnostic] pipeline returned\n");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(std::filesystem::is_regular_file(runs[0].run / "weights" / "last.safetensors"));
  EXPECT_GT(group_->collectives_started(), 3);  // gradient buckets and votes, every step
  group_.reset();
  std::fprintf(stderr, "[diagnostic] group destroyed\n");
  runtime_.reset();
  std::fprintf(stderr, "[diagnostic] plugins unloaded\n");
}

INSTANTIATE_TEST_SUITE_P(Backends, OneRankGroup,
                         // GlooCuda: CUDA tensors without NCCL, which tells a fault of NCCL's
                         // from one of the CUDA training path's.
                         ::testing::Values(Case{"Gloo", Backend::kGloo, torch::kCPU},
                                           Case{"Nccl", Backend::kNccl, torch::kCUDA},
                                           Case{"GlooCuda", Backend::kGloo, torch::kCUDA}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rtseg::framework::distributed
