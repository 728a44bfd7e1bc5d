// Post-processing against RF-DETR's PostProcess formula: a hand-worked input (always) and the
// same math in PyTorch on a random input (when /usr/bin/python3 has torch).
#include "rtseg/framework/predict/postprocess.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

// A prediction whose mask logits are exactly `masks` [B, Q, h, w]: the pixel embedding is the
// identity over the h * w positions and each query's embedding holds its logits.
Prediction make_prediction(const torch::Tensor& logits, const torch::Tensor& boxes, const torch::Tensor& masks) {
  Prediction prediction;
  prediction.detections.logits = logits;
  prediction.detections.boxes = boxes;
  if (masks.defined()) {
    const std::int64_t b = masks.size(0), q = masks.size(1), h = masks.size(2), w = masks.size(3);
    sdk::MaskEmbedding embedding;
    embedding.pixels = torch::eye(h * w).view({1, h * w, h, w}).expand({b, h * w, h, w}).contiguous();
    embedding.queries = masks.reshape({b, q, h * w});
    prediction.masks = embedding;
  }
  return prediction;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Three queries, two classes; query 0's low-resolution mask is 3 in its left column, -1 in its right.
Prediction hand_worked() {
  const torch::Tensor logits = torch::tensor({-5.0f, 2.0f, 0.5f, -3.0f, -1.0f, -2.0f}).view({1, 3, 2});
  const torch::Tensor boxes =
      torch::tensor({0.5f, 0.25f, 0.2f, 0.5f, 0.5f, 0.5f, 1.0f, 1.0f, 0.1f, 0.9f, 0.2f, 0.2f}).view({1, 3, 4});
  torch::Tensor masks = torch::full({1, 3, 2, 2}, -1.0f);
  masks[0][0].select(1, 0).fill_(3.0f);
  masks[0][0].select(1, 1).fill_(-1.0f);
  masks[0][1].fill_(3.0f);
  return make_prediction(logits, boxes, masks);
}

TEST(Postprocess, RanksQueryClassPairsAndScalesBoxesToTheSourceImage) {
  PostprocessOptions options;
  options.num_select = 3;
  const auto out = postprocess(hand_worked(), {{100, 200}}, options, {42});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 3u);
  const Detection& best = out[0][0];
  EXPECT_EQ(best.image_id, 42);
  EXPECT_EQ(best.label, 1);
  EXPECT_FLOAT_EQ(best.score, sigmoid(2.0f));
  // (0.5, 0.25, 0.2, 0.5) of a 200 x 100 image: corners (80, 0)-(120, 50).
  EXPECT_NEAR(best.box_xywh[0], 80.0, 1e-4);
  EXPECT_NEAR(best.box_xywh[1], 0.0, 1e-4);
  EXPECT_NEAR(best.box_xywh[2], 40.0, 1e-4);
  EXPECT_NEAR(best.box_xywh[3], 50.0, 1e-4);
  EXPECT_EQ(out[0][1].label, 0);
  EXPECT_FLOAT_EQ(out[0][1].score, sigmoid(0.5f));
  EXPECT_NEAR(out[0][1].box_xywh[0], 0.0, 1e-4);
  EXPECT_NEAR(out[0][1].box_xywh[2], 200.0, 1e-4);
  EXPECT_NEAR(out[0][1].box_xywh[3], 100.0, 1e-4);
  EXPECT_EQ(out[0][2].label, 0);  // query 2's best class; its other class (-2) ranks 4th
  EXPECT_FLOAT_EQ(out[0][2].score, sigmoid(-1.0f));

  // Query 0's mask at 100 x 200: column x samples the low-res mask at (x + 0.5) / 100 - 0.5
  // (align_corners = false), where 3 - 4 * that crosses 0 between columns 124 and 125.
  ASSERT_TRUE(best.mask.has_value());
  EXPECT_EQ(best.mask->height, 100);
  EXPECT_EQ(best.mask->width, 200);
  const torch::Tensor dense = sdk::masks::decode(*best.mask);
  EXPECT_TRUE(dense.slice(1, 0, 125).eq(1).all().item<bool>());
  EXPECT_TRUE(dense.slice(1, 125, 200).eq(0).all().item<bool>());
  EXPECT_EQ(sdk::masks::area(*out[0][1].mask), 100u * 200u);
  EXPECT_EQ(sdk::masks::area(*out[0][2].mask), 0u);
}

TEST(Postprocess, ScoreThresholdKeepsOnlyDetectionsAboveIt) {
  PostprocessOptions options;
  options.num_select = 3;
  options.score_threshold = 0.5f;
  auto selected = select_detections(hand_worked(), {{10, 20}}, options);
  EXPECT_EQ(selected[0].scores.size(0), 2);
  EXPECT_EQ(selected[0].masks.sizes(), (std::vector<std::int64_t>{2, 10, 20}));
  options.score_threshold = sigmoid(2.0f);  // strictly above, as RF-DETR's predict
  selected = select_detections(hand_worked(), {{10, 20}}, options);
  EXPECT_EQ(selected[0].scores.size(0), 0);
  EXPECT_EQ(selected[0].labels.size(0), 0);
  EXPECT_EQ(selected[0].boxes_xyxy.sizes(), (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(selected[0].masks.sizes(), (std::vector<std::int64_t>{0, 10, 20}));
  EXPECT_TRUE(postprocess(hand_worked(), {{10, 20}}, options)[0].empty());
}

TEST(Postprocess, TakesEveryPairWhenNumSelectExceedsThem) {
  PostprocessOptions options;
  options.num_select = 300;
  const auto selected = select_detections(hand_worked(), {{4, 4}}, options);
  EXPECT_EQ(selected[0].scores.size(0), 6);
  EXPECT_TRUE(selected[0].scores.slice(0, 0, 5).ge(selected[0].scores.slice(0, 1, 6)).all().item<bool>());
}

TEST(Postprocess, WithoutMasksGivesBoxesOnly) {
  const Prediction prediction = make_prediction(hand_worked().detections.logits, hand_worked().detections.boxes, {});
  const auto out = postprocess(prediction, {{10, 10}});
  ASSERT_EQ(out[0].size(), 6u);
  EXPECT_FALSE(out[0][0].mask.has_value());
  PostprocessOptions boxes_only;
  boxes_only.with_masks = false;
  EXPECT_FALSE(select_detections(hand_worked(), {{10, 10}}, boxes_only)[0].masks.defined());
}

TEST(Postprocess, ChunkedResizingGivesTheSameMasks) {
  torch::manual_seed(3);
  const Prediction prediction =
      make_prediction(torch::randn({1, 6, 3}), torch::rand({1, 6, 4}), torch::randn({1, 6, 4, 5}));
  PostprocessOptions whole, chunked;
  chunked.max_resize_elements = 2 * 30 * 31;  // two masks at a time
  const auto a = select_detections(prediction, {{30, 31}}, whole);
  const auto b = select_detections(prediction, {{30, 31}}, chunked);
  EXPECT_EQ(a[0].masks.size(0), 18);
  EXPECT_TRUE(a[0].masks.equal(b[0].masks));
}

TEST(Postprocess, CudaGivesWhatTheCpuGives) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  const torch::Tensor logits = torch::randn({3, 20, 5}) * 3, boxes = torch::rand({3, 20, 4});
  const torch::Tensor masks = torch::randn({3, 20, 8, 8}) * 4;
  const std::vector<ImageSize> sizes = {{50, 70}, {33, 21}, {64, 64}};
  PostprocessOptions options;
  options.num_select = 30;
  options.score_threshold = 0.3f;
  options.max_resize_elements = 4 * 64 * 64;  // the chunked path too
  const auto cpu = select_detections(make_prediction(logits, boxes, masks), sizes, options);
  const auto cuda = select_detections(
      make_prediction(logits.cuda(), boxes.cuda(), masks.cuda()), sizes, options);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_TRUE(cuda[i].scores.device().is_cpu());
    EXPECT_TRUE(cuda[i].masks.device().is_cpu());
    ASSERT_EQ(cpu[i].scores.size(0), cuda[i].scores.size(0));
    EXPECT_TRUE(torch::allclose(cpu[i].scores, cuda[i].scores, 1e-5, 1e-6));
    EXPECT_TRUE(cpu[i].labels.equal(cuda[i].labels));
    EXPECT_TRUE(torch::allclose(cpu[i].boxes_xyxy, cuda[i].boxes_xyxy, 1e-5, 1e-4));
    // Bilinear weights may round differently on the GPU: allow a handful of pixels at mask edges.
    EXPECT_LE(cpu[i].masks.ne(cuda[i].masks).sum().item<std::int64_t>(), 20);
  }
}

TEST(Postprocess, RejectsSizesThatDoNotMatchTheBatch) {
  EXPECT_THAT([] { postprocess(hand_worked(), {{10, 10}, {10, 10}}); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("2 image sizes for a batch of 1")));
  EXPECT_THAT([] { postprocess(hand_worked(), {{0, 10}}); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("is not positive")));
  EXPECT_THAT([] { postprocess(hand_worked(), {{5, 10}}, {}, {1, 2}); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("2 image ids for 1 images")));
}

void write_values(std::ofstream& out, const torch::Tensor& tensor) {
  const torch::Tensor flat = tensor.contiguous().view({-1});
  char buffer[32];
  for (std::int64_t i = 0; i < flat.size(0); ++i) {
    std::snprintf(buffer, sizeof buffer, "%.9g ", static_cast<double>(flat[i].item<float>()));
    out << buffer;
  }
  out << "\n";
}

TEST(Postprocess, AgreesWithRfdetrFormulaInPyTorch) {
  const char* python = "/usr/bin/python3";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << python << " not found";
  torch::manual_seed(11);
  const std::int64_t b = 2, q = 7, c = 4, h = 5, w = 6, num_select = 10;
  const std::vector<ImageSize> sizes = {{13, 17}, {9, 23}};
  const torch::Tensor logits = torch::randn({b, q, c}) * 3;
  const torch::Tensor boxes = torch::rand({b, q, 4});
  const torch::Tensor masks = torch::randn({b, q, h, w}) * 4;
  rtseg::testing::TempDir dir;
  {
    std::ofstream out(dir / "problem.txt");
    out << b << " " << q << " " << c << " " << h << " " << w << " " << num_select << "\n";
    for (const ImageSize& size : sizes) out << size.height << " " << size.width << "\n";
    write_values(out, logits);
    write_values(out, boxes);
    write_values(out, masks);
  }
  // %.9g round-trips a float exactly, so both sides see the same inputs.
  const auto result = rtseg::testing::run(std::string(python) + " " + RTSEG_SOURCE_DIR +
                                          "/tests/predict/postprocess_reference.py " +
                                          (dir / "problem.txt").string());
  if (result.exit_code == 3) GTEST_SKIP() << result.err;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json reference = nlohmann::json::parse(result.out);

  PostprocessOptions options;
  options.num_select = num_select;
  const auto selected = select_detections(make_prediction(logits, boxes, masks), sizes, options);
  ASSERT_EQ(reference.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& expected = reference[i];
    ASSERT_EQ(selected[i].scores.size(0), num_select);
    for (std::int64_t k = 0; k < num_select; ++k) {
      EXPECT_NEAR(selected[i].scores[k].item<float>(), expected["scores"][k].get<double>(), 1e-6) << i << "/" << k;
      EXPECT_EQ(selected[i].labels[k].item<std::int64_t>(), expected["labels"][k].get<std::int64_t>()) << i << "/" << k;
      for (int j = 0; j < 4; ++j) {
        EXPECT_NEAR(selected[i].boxes_xyxy[k][j].item<float>(), expected["boxes"][k][j].get<double>(), 1e-4);
      }
      const torch::Tensor mask = selected[i].masks[k].contiguous().view({-1});
      std::string bits(static_cast<std::size_t>(mask.size(0)), '0');
      const bool* data = mask.data_ptr<bool>();
      for (std::size_t p = 0; p < bits.size(); ++p) bits[p] = data[p] ? '1' : '0';
      EXPECT_EQ(bits, expected["masks"][k].get<std::string>()) << "image " << i << " detection " << k;
    }
  }
}

}  // namespace
}  // namespace rtseg::framework
