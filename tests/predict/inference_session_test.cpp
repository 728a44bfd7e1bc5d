#include "rtseg/framework/predict/inference_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "predict/scripted_model.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

using ::testing::HasSubstr;

torch::Tensor images() {
  torch::manual_seed(3);
  return torch::randn({2, 3, 32, 32});
}

TEST(InferenceSession, Fp32EqualsModelPredictAndReturnsFloat) {
  auto model = rtseg::testing::scripted_model();
  const Prediction expected = model->predict(images());
  InferenceSession session(*model, {});
  const Prediction got = session.run(images());
  EXPECT_TRUE(torch::equal(got.detections.logits, expected.detections.logits));
  EXPECT_TRUE(torch::equal(got.detections.boxes, expected.detections.boxes));
  ASSERT_TRUE(got.masks.has_value());
  EXPECT_TRUE(torch::equal(sdk::mask_logits(*got.masks), sdk::mask_logits(*expected.masks)));
  EXPECT_EQ(got.detections.logits.scalar_type(), torch::kFloat);
  EXPECT_EQ(session.precision(), train::AmpMode::kOff);
}

TEST(InferenceSession, AutoIsFp32OnTheCpuAndHalfPrecisionNeedsCuda) {
  auto model = rtseg::testing::scripted_model();
  EXPECT_EQ(InferenceSession(*model, {"auto", false}).precision(), train::AmpMode::kOff);
  EXPECT_THAT([&] { InferenceSession(*model, {"bf16", false}); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("precision \"bf16\" needs a CUDA device")));
  EXPECT_THAT([&] { InferenceSession(*model, {"fp8", false}); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("expected fp32, bf16, fp16 or auto")));
  EXPECT_THAT([&] { InferenceSession(*model, {"fp32", true}); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("CUDA graphs need the model on a CUDA device")));
}

TEST(InferenceSession, LeavesTheModelInEvalMode) {
  auto model = rtseg::testing::scripted_model();
  model->train();
  InferenceSession session(*model, {});
  session.run(images());
  EXPECT_FALSE(model->is_training());
}

// On a CUDA machine: half precision agrees with fp32. (The scripted model copies constants from
// the host in its forward, which a CUDA graph cannot capture; bench/infer replays the real model.)
TEST(InferenceSession, CudaHalfPrecisionAgreesWithFp32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto model = rtseg::testing::scripted_model();
  model->to(torch::kCUDA);
  const Prediction reference = InferenceSession(*model, {}).run(images());
  for (const char* precision : {"fp32", "bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    InferenceSession session(*model, {precision, false});
    const Prediction got = session.run(images());
    EXPECT_EQ(got.detections.logits.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::allclose(got.detections.logits, reference.detections.logits, 2e-2, 2e-2));
  }
}

}  // namespace
}  // namespace rtseg::framework
