// sdk::recompute_in_backward: same values and gradients as the plain forward, activations
// rebuilt in backward.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "rtseg/sdk/recompute.h"

namespace rtseg::sdk {
namespace {

struct Piece {
  torch::nn::Linear first{4, 6};
  torch::nn::Linear second{6, 3};
  int calls = 0;

  // Two inputs, two outputs; the second output uses only the second input.
  std::vector<torch::Tensor> operator()(const std::vector<torch::Tensor>& in) {
    ++calls;
    const torch::Tensor hidden = torch::gelu(first->forward(in[0]));
    return {second->forward(hidden) * in[1].sum(), in[1].tanh()};
  }
  std::vector<torch::Tensor> parameters() const {
    auto all = first->parameters();
    for (const auto& p : second->parameters()) all.push_back(p);
    return all;
  }
};

std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> grads;
  for (const auto& t : tensors) grads.push_back(t.grad().clone());
  return grads;
}

TEST(RecomputeInBackward, GradientsEqualThePlainForward) {
  torch::manual_seed(0);
  Piece piece;
  const torch::Tensor a = torch::randn({5, 4}, torch::requires_grad());
  const torch::Tensor b = torch::randn({2}, torch::requires_grad());

  const auto plain = piece({a, b});
  (plain[0].square().sum() + plain[1].sum()).backward();
  const auto expected_inputs = grads_of({a, b});
  const auto expected_params = grads_of(piece.parameters());
  for (auto t : {a, b}) t.mutable_grad().reset();
  for (auto p : piece.parameters()) p.mutable_grad().reset();

  piece.calls = 0;
  const auto function = [&piece](const std::vector<torch::Tensor>& in) { return piece(in); };
  const auto outputs = recompute_in_backward(function, {a, b}, piece.parameters());
  EXPECT_EQ(piece.calls, 1);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_TRUE(torch::allclose(outputs[0], plain[0]));
  EXPECT_TRUE(outputs[0].requires_grad());
  (outputs[0].square().sum() + outputs[1].sum()).backward();
  EXPECT_EQ(piece.calls, 2);  // recomputed once for backward
  const auto inputs = grads_of({a, b});
  const auto params = grads_of(piece.parameters());
  for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE(torch::allclose(inputs[i], expected_inputs[i])) << i;
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::allclose(params[i], expected_params[i])) << i;
}

TEST(RecomputeInBackward, AnOutputWithoutGradientIsFine) {
  torch::manual_seed(1);
  Piece piece;
  const torch::Tensor a = torch::randn({3, 4}, torch::requires_grad());
  const torch::Tensor b = torch::randn({2});
  const auto function = [&piece](const std::vector<torch::Tensor>& in) { return piece(in); };
  const auto outputs = recompute_in_backward(function, {a, b}, piece.parameters());
  outputs[0].sum().backward();  // the second output is not used
  ASSERT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_TRUE(piece.first->weight.grad().defined());
}

TEST(RecomputeInBackward, WithoutGradientItIsAPlainCall) {
  Piece piece;
  const auto function = [&piece](const std::vector<torch::Tensor>& in) { return piece(in); };
  torch::NoGradGuard no_grad;
  const auto outputs = recompute_in_backward(function, {torch::randn({2, 4}), torch::randn({2})}, piece.parameters());
  EXPECT_FALSE(outputs[0].requires_grad());
  EXPECT_EQ(piece.calls, 1);
}

}  // namespace
}  // namespace rtseg::sdk
