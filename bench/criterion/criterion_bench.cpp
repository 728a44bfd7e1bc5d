// Times RF-DETR's training criterion (Hungarian matching + losses) at Nano-like sizes:
// 13 groups x 300 queries, 91 classes, 3 supervised outputs (last layer, one auxiliary layer,
// two-stage proposals), optionally with 96 x 96 factored masks (D = 256) and 384 x 384 targets.
//
//   rtseg_bench_criterion [--repeats N] [--threads N] [--device cpu|cuda]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/set_criterion.h"

namespace {

using namespace rtseg::framework;
using namespace rtseg::framework::criterion;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kGroups = 13, kQueriesPerGroup = 300, kClasses = 91, kOutputs = 3;
constexpr std::int64_t kMaskDim = 256, kMaskSide = 96, kImageSide = 384;

struct Case {
  std::int64_t batch, objects;
  bool masks;
};

struct Step {
  std::vector<SupervisedOutput> outputs;
  TargetBatch targets;
  std::vector<torch::Tensor> leaves;  // what backward differentiates
};

torch::Tensor random_boxes(std::vector<std::int64_t> shape, const torch::TensorOptions& options) {
  shape.push_back(2);
  const torch::Tensor centres = torch::rand(shape, options) * 0.8 + 0.1;
  const torch::Tensor sizes = torch::rand(shape, options) * 0.45 + 0.05;
  return torch::cat({centres, sizes}, -1);
}

Step make_step(const Case& c, const torch::Device& device) {
  torch::manual_seed(0);
  const auto options = torch::TensorOptions().device(device);
  const std::int64_t queries = kGroups * kQueriesPerGroup;
  Step step;
  for (std::int64_t o = 0; o < kOutputs; ++o) {
    SupervisedOutput out;
    out.suffix = o == 0 ? "" : (o == 1 ? "_0" : "_enc");
    out.logits = (torch::randn({c.batch, queries, kClasses}, options) - 4).requires_grad_();
    out.boxes = random_boxes({c.batch, queries}, options).requires_grad_();
    step.leaves.push_back(out.logits);
    step.leaves.push_back(out.boxes);
    if (c.masks) {
      out.masks.pixels = (torch::randn({c.batch, kMaskDim, kMaskSide, kMaskSide}, options) * 0.1).requires_grad_();
      out.masks.queries = torch::randn({c.batch, queries, kMaskDim}, options).requires_grad_();
      out.masks.bias = torch::zeros({1}, options).requires_grad_();
      step.leaves.push_back(out.masks.pixels);
      step.leaves.push_back(out.masks.queries);
    }
    step.outputs.push_back(out);
  }
  std::vector<Targets> targets(c.batch);
  for (Targets& t : targets) {
    t.labels = torch::randint(kClasses, {c.objects}, torch::kLong);
    t.boxes = random_boxes({c.objects}, {});
    if (c.masks) t.masks = torch::rand({c.objects, kImageSide, kImageSide}) > 0.7;
  }
  step.targets = make_target_batch(targets, device);
  return step;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void synchronize(const torch::Device& device) {
  // A tiny host read waits for the queued device work (timing only).
  if (device.is_cuda()) torch::zeros({1}, torch::TensorOptions().device(device)).cpu();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  std::string device_name = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) at::set_num_threads(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
  }
  const torch::Device device(device_name);
  std::printf("criterion bench: %s, %d intra-op threads, %lld groups x %lld queries, %lld classes, "
              "%lld supervised outputs, median of %d\n",
              device_name.c_str(), at::get_num_threads(), static_cast<long long>(kGroups),
              static_cast<long long>(kQueriesPerGroup), static_cast<long long>(kClasses),
              static_cast<long long>(kOutputs), repeats);
  std::printf("%5s %7s %6s | %9s %9s %9s | %9s %9s\n", "batch", "objects", "masks", "costs ms",
              "solve ms", "match ms", "crit. ms", "bwd ms");

  const SetCriterion criterion(LossOptions{}, MatcherOptions{});
  const std::vector<Case> cases = {{4, 6, false}, {4, 50, false}, {8, 6, false}, {8, 50, false},
                                   {4, 6, true},  {4, 50, true},  {8, 6, true},  {8, 50, true}};
  for (const Case& c : cases) {
    const Step step = make_step(c, device);
    at::Generator generator = device.is_cuda() ? at::globalContext().defaultGenerator(device)
                                               : at::detail::createCPUGenerator(1);
    std::vector<double> costs_ms, solve_ms, match_ms, total_ms, backward_ms;
    for (int r = 0; r < repeats + 1; ++r) {  // the first run warms up
      // Matching alone, split into the device costs (+ the one host copy) and the host solve.
      synchronize(device);
      auto start = Clock::now();
      std::vector<torch::Tensor> host_costs;
      for (const SupervisedOutput& out : step.outputs) {
        host_costs.push_back(finite_costs(matching_costs(out, step.targets, MatcherOptions{}, 16, generator),
                                          step.targets).cpu());
      }
      const double costs = seconds_since(start);
      start = Clock::now();
      for (const torch::Tensor& h : host_costs) {
        assign_per_group(h.data_ptr<float>(), h.size(1), h.size(2), step.targets.sizes, kGroups);
      }
      const double solve = seconds_since(start);

      // The whole criterion (its matcher solves in parallel), then backward.
      synchronize(device);
      start = Clock::now();
      const HungarianMatcher& matcher = criterion.matcher();
      matcher.match(step.outputs, step.targets, kGroups, generator);
      synchronize(device);
      const double match = seconds_since(start);
      start = Clock::now();
      const CriterionResult result = criterion(step.outputs, step.targets, kGroups, generator);
      synchronize(device);
      const double total = seconds_since(start);
      start = Clock::now();
      torch::autograd::grad({result.total}, step.leaves);
      synchronize(device);
      const double backward = seconds_since(start);
      if (r == 0) continue;
      costs_ms.push_back(costs * 1e3);
      solve_ms.push_back(solve * 1e3);
      match_ms.push_back(match * 1e3);
      total_ms.push_back(total * 1e3);
      backward_ms.push_back(backward * 1e3);
    }
    std::printf("%5lld %7lld %6s | %9.1f %9.1f %9.1f | %9.1f %9.1f\n", static_cast<long long>(c.batch),
                static_cast<long long>(c.objects), c.masks ? "96x96" : "-", median(costs_ms),
                median(solve_ms), median(match_ms), median(total_ms), median(backward_ms));
  }
  std::printf("costs: device cost matrices of all outputs + host copy; solve: single-threaded LSAP "
              "(13 groups x images x outputs); match: the matcher as the criterion runs it (parallel "
              "solve); crit.: the whole criterion call (matching + losses); bwd: autograd of the "
              "weighted total.\n");
  return 0;
}
