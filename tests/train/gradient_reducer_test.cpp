// The gradient reducer on two real ranks (two_ranks.h): buckets start during the last
// micro-batch's backward only, and two ranks end where one process with both samples ends.
#include "rtseg/framework/distributed/gradient_reducer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/process_group.h"
#include "test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

constexpr int kMicroBatches = 2;
constexpr int kSteps = 2;
constexpr double kLearningRate = 0.1;

// Three layers, the first layer's bias frozen, and a layer the forward pass never uses
// (registered first, so its bucket is the last: finish() starts it).
struct MlpImpl : torch::nn::Module {
  MlpImpl() {
    unused = register_module("unused", torch::nn::Linear(2, 2));
    first = register_module("first", torch::nn::Linear(4, 16));
    second = register_module("second", torch::nn::Linear(16, 16));
    third = register_module("third", torch::nn::Linear(16, 3));
    first->bias.set_requires_grad(false);
  }
  torch::Tensor forward(const torch::Tensor& x) { return third(torch::tanh(second(torch::tanh(first(x))))); }
  torch::nn::Linear unused{nullptr}, first{nullptr}, second{nullptr}, third{nullptr};
};
TORCH_MODULE(Mlp);

// Four samples: micro-batch m of a step holds samples 2m and 2m + 1 (rank r of two: sample 2m + r).
std::pair<torch::Tensor, torch::Tensor> accumulation_batch() {
  torch::manual_seed(321);
  return {torch::randn({2 * kMicroBatches, 4}), torch::randn({2 * kMicroBatches, 3})};
}

std::vector<double> flat_values(torch::nn::Module& model) {
  std::vector<double> values;
  for (const auto& p : model.parameters()) {
    const torch::Tensor flat = p.detach().reshape({-1}).to(torch::kDouble);
    values.insert(values.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  }
  return values;
}

void sgd_update(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.grad().defined()) p.sub_(p.grad() * kLearningRate);
    p.mutable_grad().reset();
  }
}

// Two steps of two micro-batches each, communicating in the last micro-batch's backward. Writes
// the weights, and the counts: buckets, then per step the collectives each micro-batch's
// backward started, the reducer's count of those, and what finish() started.
const rtseg::testing::RankRoleRegistration kReducer("reducer", {[](ProcessGroup& group,
                                                                   const std::filesystem::path& out) {
  torch::manual_seed(group.rank());  // different initial weights on purpose: broadcast fixes them
  Mlp net;
  group.broadcast(net->parameters());
  GradientReducer reducer(net->parameters(), group, /*bucket_bytes=*/256);  // several buckets
  const auto [x, y] = accumulation_batch();
  std::vector<double> counts{static_cast<double>(reducer.bucket_count())};
  for (int step = 0; step < kSteps; ++step) {
    for (int m = 0; m < kMicroBatches; ++m) {
      const std::int64_t before = group.collectives_started();
      const std::int64_t sample = 2 * m + group.rank();
      const torch::Tensor loss =
          torch::mse_loss(net->forward(x.narrow(0, sample, 1)), y.narrow(0, sample, 1)) / kMicroBatches;
      // Step 0 without the loss: the reducer cannot know the unused layer gets no gradient.
      reducer.prepare_backward(m == kMicroBatches - 1, step == 0 ? torch::Tensor() : loss);
      loss.backward();
      counts.push_back(static_cast<double>(group.collectives_started() - before));
    }
    counts.push_back(static_cast<double>(reducer.started_during_backward()));
    const std::int64_t before = group.collectives_started();
    reducer.finish();
    counts.push_back(static_cast<double>(group.collectives_started() - before));
    sgd_update(*net);
  }
  const std::string rank = std::to_string(group.rank());
  rtseg::testing::write_values(out / ("rank" + rank + ".txt"), flat_values(*net));
  rtseg::testing::write_values(out / ("counts" + rank + ".txt"), counts);
}});

TEST(Distributed, TheGradientReducerOverlapsAndAveragesOnlyTheLastMicroBatch) {
  using rtseg::testing::read_values;
  rtseg::testing::TempDir dir;
  ASSERT_THAT(rtseg::testing::run_two_ranks("reducer", dir.path()), ::testing::ElementsAre(0, 0));
  const auto rank0 = read_values(dir.path() / "rank0.txt");
  const auto rank1 = read_values(dir.path() / "rank1.txt");
  ASSERT_EQ(rank0.size(), 6u + 80u + 272u + 51u);
  EXPECT_EQ(rank0, rank1);  // bit for bit

  const auto counts = read_values(dir.path() / "counts0.txt");
  EXPECT_EQ(counts, read_values(dir.path() / "counts1.txt"));
  ASSERT_EQ(counts.size(), 1u + kSteps * (kMicroBatches + 2));
  // 256-byte buckets, in reverse: [third, second.bias], [second.weight], [first.weight], [unused].
  const double buckets = counts[0];
  EXPECT_EQ(buckets, 4);
  for (int step = 0; step < kSteps; ++step) {
    const double* c = &counts[1 + step * (kMicroBatches + 2)];
    EXPECT_EQ(c[0], 0) << "step " << step << ": the first micro-batch only accumulates";
    EXPECT_EQ(c[2], c[1]);
    EXPECT_EQ(c[1] + c[3], buckets) << "step " << step << ": every bucket once";
  }
  // Step 0: the last backward starts the buckets as they fill, all but the unused layer's, which
  // finish() starts. Step 1: given the loss, the reducer sees the unused layer is out of the
  // graph, and its bucket follows the others during backward.
  EXPECT_EQ(counts[1 + 1], 3);
  EXPECT_EQ(counts[1 + 3], 1);
  EXPECT_EQ(counts[1 + (kMicroBatches + 2) + 1], 4);
  EXPECT_EQ(counts[1 + (kMicroBatches + 2) + 3], 0);

  torch::manual_seed(0);  // rank 0's initial weights
  Mlp net;
  const auto [x, y] = accumulation_batch();
  for (int step = 0; step < kSteps; ++step) {
    for (int m = 0; m < kMicroBatches; ++m) {
      (torch::mse_loss(net->forward(x.narrow(0, 2 * m, 2)), y.narrow(0, 2 * m, 2)) / kMicroBatches).backward();
    }
    sgd_update(*net);
  }
  const auto single = flat_values(*net);
  ASSERT_EQ(single.size(), rank0.size());
  for (std::size_t i = 0; i < single.size(); ++i) EXPECT_NEAR(rank0[i], single[i], 1e-6) << "value " << i;
}

}  // namespace
}  // namespace rtseg::framework::distributed
