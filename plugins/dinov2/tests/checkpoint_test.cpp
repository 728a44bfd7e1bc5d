// Gradient checkpointing of the ViT layers: same outputs and gradients as the plain forward,
// less memory held between forward and backward, frozen parameters and inputs handled.
#include <malloc.h>

#include <map>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dinov2_backbone.h"
#include "dinov2_test_support.h"
#include "windowed_vit.h"

namespace rtseg::plugins::dinov2 {
namespace {

using GradMap = std::map<std::string, torch::Tensor>;

// Windows, registers, drop path, a global layer (tap 2) and two projector levels.
Dinov2Options training_options() {
  Dinov2Options o = testing::tiny_options();
  o.num_register_tokens = 1;
  o.drop_path = 0.2;
  o.out_feature_indexes = {1, 2, 3};
  o.projector_scale = {"P3", "P4"};
  return o;
}

struct ForwardBackward {
  std::vector<torch::Tensor> outputs;
  GradMap grads;  // parameters by name, and "input"
};

// loss = sum_k <out_k, fixed random weights>, back-propagated with backward().
ForwardBackward run_backward(Dinov2Backbone& backbone, const torch::Tensor& images,
                             bool checkpointing) {
  backbone.set_gradient_checkpointing(checkpointing);
  backbone.zero_grad(/*set_to_none=*/true);
  const torch::Tensor input = images.detach().clone().requires_grad_(images.requires_grad());
  torch::manual_seed(5);  // the same drop-path masks in both runs
  ForwardBackward run;
  run.outputs = backbone.forward(input);
  torch::Tensor loss = torch::zeros({});
  torch::Generator weights_rng = at::detail::createCPUGenerator(9);
  for (const auto& out : run.outputs)
    loss = loss + (out * torch::randn(out.sizes(), weights_rng)).sum();
  loss.backward();
  for (const auto& p : backbone.named_parameters()) {
    if (p.value().grad().defined()) run.grads[p.key()] = p.value().grad().clone();
  }
  if (input.grad().defined()) run.grads["input"] = input.grad().clone();
  return run;
}

void expect_same_grads(const GradMap& expected, const GradMap& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, grad] : expected) {
    ASSERT_EQ(actual.count(name), 1u) << name;
    EXPECT_TRUE(torch::allclose(actual.at(name), grad, 1e-5, 1e-6)) << name;
  }
}

TEST(Dinov2Checkpointing, SameOutputsAndGradientsAsThePlainForward) {
  torch::manual_seed(1);
  const auto backbone = make_dinov2(training_options(), testing::context_with_hidden_dim(16));
  backbone->train();
  const torch::Tensor images = torch::randn({2, 3, 32, 48}).requires_grad_(true);
  EXPECT_TRUE(backbone->set_gradient_checkpointing(true));
  const ForwardBackward plain = run_backward(*backbone, images, false);
  const ForwardBackward checkpointed = run_backward(*backbone, images, true);
  ASSERT_EQ(plain.outputs.size(), checkpointed.outputs.size());
  for (std::size_t i = 0; i < plain.outputs.size(); ++i) {
    EXPECT_TRUE(torch::equal(plain.outputs[i], checkpointed.outputs[i])) << "output " << i;
  }
  expect_same_grads(plain.grads, checkpointed.grads);

  // Every trainable parameter gets a gradient; mask_token is unused in the forward (as in
  // RF-DETR, where it only serves masked pre-training).
  for (const auto& p : backbone->named_parameters()) {
    const bool unused = p.key() == "encoder.encoder.embeddings.mask_token";
    EXPECT_EQ(checkpointed.grads.count(p.key()), unused ? 0u : 1u) << p.key();
  }
  EXPECT_EQ(checkpointed.grads.count("input"), 1u);
}

TEST(Dinov2Checkpointing, ParameterGradientsFlowThroughAutogradGrad) {
  // The parameters are inputs of the checkpoint node, so torch::autograd::grad reaches them too
  // (a reentrant checkpoint that accumulated into .grad itself would not).
  torch::manual_seed(2);
  const auto backbone = make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(16));
  backbone->train();
  backbone->set_gradient_checkpointing(true);
  const torch::Tensor images = torch::randn({1, 3, 32, 32});
  const ForwardBackward reference = run_backward(*backbone, images, false);

  backbone->set_gradient_checkpointing(true);
  backbone->zero_grad(/*set_to_none=*/true);
  std::vector<torch::Tensor> parameters;
  std::vector<std::string> names;
  for (const auto& p : backbone->named_parameters()) {
    if (reference.grads.count(p.key())) {
      parameters.push_back(p.value());
      names.push_back(p.key());
    }
  }
  torch::manual_seed(5);
  const auto outputs = backbone->forward(images);
  torch::Generator weights_rng = at::detail::createCPUGenerator(9);
  const torch::Tensor loss = (outputs[0] * torch::randn(outputs[0].sizes(), weights_rng)).sum();
  const auto grads = torch::autograd::grad({loss}, parameters);
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(torch::allclose(grads[i], reference.grads.at(names[i]), 1e-5, 1e-6)) << names[i];
    EXPECT_FALSE(parameters[i].grad().defined()) << names[i];  // grad() does not accumulate
  }
}

TEST(Dinov2Checkpointing, FrozenEncoderAndInputsWithoutGradients) {
  Dinov2Options options = training_options();
  options.freeze = true;
  torch::manual_seed(3);
  const auto backbone = make_dinov2(options, testing::context_with_hidden_dim(16));
  backbone->train();
  // Nothing in the ViT needs a gradient: checkpointing is a plain no-grad forward there.
  const torch::Tensor images = torch::randn({1, 3, 32, 32});
  const ForwardBackward plain = run_backward(*backbone, images, false);
  const ForwardBackward checkpointed = run_backward(*backbone, images, true);
  expect_same_grads(plain.grads, checkpointed.grads);
  for (const auto& [name, grad] : checkpointed.grads)
    EXPECT_EQ(name.rfind("projector.", 0), 0u) << name;
  // An input that needs a gradient still gets it through frozen, checkpointed layers.
  const torch::Tensor wanting = images.clone().requires_grad_(true);
  const ForwardBackward plain_input = run_backward(*backbone, wanting, false);
  const ForwardBackward checkpointed_input = run_backward(*backbone, wanting, true);
  ASSERT_EQ(checkpointed_input.grads.count("input"), 1u);
  expect_same_grads(plain_input.grads, checkpointed_input.grads);
}

TEST(Dinov2Checkpointing, PlainForwardInEvalModeAndWithoutGrad) {
  torch::manual_seed(4);
  const auto backbone = make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(16));
  const torch::Tensor images = torch::randn({1, 3, 32, 32});
  backbone->eval();
  const auto plain = backbone->forward(images);
  backbone->set_gradient_checkpointing(true);
  EXPECT_TRUE(torch::equal(backbone->forward(images)[0], plain[0]));
  backbone->train();  // training-mode validation under no_grad
  torch::NoGradGuard no_grad;
  const auto no_grad_out = backbone->forward(images);
  EXPECT_FALSE(no_grad_out[0].requires_grad());
  EXPECT_TRUE(torch::equal(no_grad_out[0], plain[0]));
}

// Bytes the process has allocated with malloc and not freed (LibTorch's CPU allocator uses
// malloc): small and medium blocks in all arenas (uordblks) plus blocks served by mmap (hblkhd).
std::int64_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<std::int64_t>(info.uordblks + info.hblkhd);
}

TEST(Dinov2Checkpointing, HoldsLessMemoryBetweenForwardAndBackward) {
  // What the autograd graph keeps alive after the forward is what checkpointing saves: every
  // layer's internals (attention probabilities [N, heads, T, T], MLP activations [N, T, 4C], ...)
  // without it, only each layer's input with it. Measured on the ViT alone (the projector keeps
  // the same activations either way), single-threaded so that no worker allocates meanwhile.
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  Dinov2Options options = testing::tiny_options();
  options.hidden_size = 64;
  options.num_heads = 4;
  options.num_layers = 4;
  options.out_feature_indexes = {4};
  WindowedVit vit(vit_config_from(options));
  vit.train();
  const torch::Tensor images = torch::randn({2, 3, 128, 128});  // 16 x 16 patches, 8 windows

  const auto held_after_forward = [&](bool checkpointing) {
    vit.set_gradient_checkpointing(checkpointing);
    const std::int64_t before = heap_in_use();
    auto maps = vit.forward(images);
    const std::int64_t held = heap_in_use() - before;
    maps.front().sum().backward();  // the graph was complete: backward works
    vit.zero_grad(/*set_to_none=*/true);
    return held;
  };
  held_after_forward(false);  // warm-up: thread pools, allocator caches
  const std::int64_t plain = held_after_forward(false);
  const std::int64_t checkpointed = held_after_forward(true);
  torch::set_num_threads(threads);
  EXPECT_GT(plain, 4 << 20) << "the plain forward should hold several MiB of activations";
  EXPECT_LT(checkpointed * 3, plain)
      << "plain " << plain << " B, checkpointed " << checkpointed << " B";
}

}  // namespace
}  // namespace rtseg::plugins::dinov2
