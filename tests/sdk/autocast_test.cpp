// sdk::autocast_input: one cast shared by the ops that read an activation.
#include <gtest/gtest.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "rtseg/sdk/autocast.h"

namespace rtseg::sdk {
namespace {

// CPU autocast in bf16 for one scope (the API differs between LibTorch 1.13 and 2.4+).
class CpuAutocast {
 public:
  CpuAutocast() { set(true, at::kBFloat16); }
  ~CpuAutocast() { set(false, at::kBFloat16); }

 private:
  static void set(bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(c10::DeviceType::CPU, enabled);
    at::autocast::set_autocast_dtype(c10::DeviceType::CPU, dtype);
#else
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
#endif
  }
};

TEST(AutocastInput, WithoutAutocastTheTensorItself) {
  const torch::Tensor x = torch::randn({3, 4});
  EXPECT_TRUE(autocast_input(x).is_same(x));
}

TEST(AutocastInput, UnderAutocastTheMatmulPrecisionSharedByEveryReader) {
  CpuAutocast autocast;
  const torch::Tensor x = torch::randn({3, 4}, torch::requires_grad());
  const torch::Tensor cast = autocast_input(x);
  EXPECT_EQ(cast.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(torch::allclose(cast.to(at::kFloat), x, 1e-2, 1e-2));
  // A linear under autocast takes the cast as it is (no second copy) and its gradient reaches x.
  const torch::Tensor weight = torch::randn({2, 4});
  const torch::Tensor y = torch::nn::functional::linear(cast, weight);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  y.to(at::kFloat).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().scalar_type(), at::kFloat);
  EXPECT_TRUE(torch::allclose(x.grad(), weight.sum(0).expand({3, 4}), 5e-2, 5e-2));
}

TEST(AutocastInput, LeavesOtherTypesAlone) {
  CpuAutocast autocast;
  const torch::Tensor index = torch::arange(5);
  const torch::Tensor wide = torch::randn({2}, torch::kDouble);
  EXPECT_TRUE(autocast_input(index).is_same(index));
  EXPECT_TRUE(autocast_input(wide).is_same(wide));
  EXPECT_FALSE(autocast_input(torch::Tensor()).defined());
}

}  // namespace
}  // namespace rtseg::sdk
