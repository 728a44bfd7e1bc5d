#include "group_self_attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace rtseg::plugins::lwdetr {
namespace {

// Attending G groups at once equals attending each group on its own, values and input
// gradients, whether the groups are small (LibTorch 1.13: one masked product over all groups)
// or large (one product per group).
void expect_groups_are_independent(std::int64_t group_length) {
  torch::manual_seed(5);
  GroupSelfAttention attention(32, 4, /*dropout=*/0.0);
  const std::int64_t groups = 3;
  const torch::Tensor qk = torch::randn({2, groups * group_length, 32}, torch::requires_grad());
  const torch::Tensor v = torch::randn({2, groups * group_length, 32}, torch::requires_grad());
  const torch::Tensor together = attention->forward(qk, v, groups);
  const torch::Tensor weights = torch::randn_like(together);
  const auto grads_together = torch::autograd::grad({(together * weights).sum()}, {qk, v});

  std::vector<torch::Tensor> parts;
  for (std::int64_t g = 0; g < groups; ++g) {
    parts.push_back(attention->forward(qk.narrow(1, g * group_length, group_length),
                                       v.narrow(1, g * group_length, group_length), 1));
  }
  const torch::Tensor separately = torch::cat(parts, 1);
  const auto grads_separately = torch::autograd::grad({(separately * weights).sum()}, {qk, v});
  EXPECT_TRUE(torch::allclose(together, separately, 1e-5, 1e-6)) << "group length " << group_length;
  EXPECT_TRUE(torch::allclose(grads_together[0], grads_separately[0], 1e-5, 1e-6)) << "group length " << group_length;
  EXPECT_TRUE(torch::allclose(grads_together[1], grads_separately[1], 1e-5, 1e-6)) << "group length " << group_length;
}

TEST(GroupSelfAttention, SmallGroupsAttendOnlyWithinTheirGroup) { expect_groups_are_independent(30); }

TEST(GroupSelfAttention, LargeGroupsAttendOnlyWithinTheirGroup) { expect_groups_are_independent(80); }

}  // namespace
}  // namespace rtseg::plugins::lwdetr
