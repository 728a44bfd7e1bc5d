#include "rtseg/framework/predict/predictor.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "predict/scripted_model.h"
#include "rtseg/framework/draw.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "rtseg/sdk/masks.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using rtseg::testing::TempDir;

torch::Tensor solid(std::int64_t h, std::int64_t w, int value) { return torch::full({h, w, 3}, value, torch::kByte); }

int pixel(const torch::Tensor& image, std::int64_t y, std::int64_t x, int channel) {
  return image[y][x][channel].item<int>();
}

class PredictImages : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir / "in" / "nested");
    sdk::write_image(dir / "in" / "white.png", solid(40, 60, 255));
    sdk::write_image(dir / "in" / "black.jpg", solid(60, 100, 0));
    dir.write("in/corrupt.jpg", "\xff\xd8\xff this is not a picture");
    dir.write("in/notes.txt", "not an image");
    sdk::write_image(dir / "in" / "nested" / "ignored.png", solid(8, 8, 0));
    options.resolution = 32;
    options.batch_size = 2;
  }

  TempDir dir;
  std::shared_ptr<Model> model = rtseg::testing::scripted_model();
  std::vector<std::string> names = {"cat", "dog"};
  PredictOptions options;
};

TEST_F(PredictImages, ListsAFoldersImagesSortedAndAFileAsItself) {
  const auto images = list_images(dir / "in");
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0].filename(), "black.jpg");
  EXPECT_EQ(images[1].filename(), "corrupt.jpg");
  EXPECT_EQ(images[2].filename(), "white.png");
  EXPECT_EQ(list_images(dir / "in" / "notes.txt").size(), 1u);
  EXPECT_THAT([&] { list_images(dir / "missing"); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("no such image file or folder")));
  std::filesystem::create_directories(dir / "empty");
  EXPECT_THAT([&] { list_images(dir / "empty"); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("no .jpg, .jpeg or .png images")));
}

TEST_F(PredictImages, WritesOnePictureAtTheInputSizePerImageAndSkipsTheCorruptOne) {
  const PredictReport report = predict_images(*model, names, list_images(dir / "in"), dir / "out", options);

  ASSERT_EQ(report.pictures.size(), 2u);
  EXPECT_EQ(report.pictures[0], dir / "out" / "black.jpg");
  EXPECT_EQ(report.pictures[1], dir / "out" / "white.png");
  const torch::Tensor black = sdk::decode_image(report.pictures[0]).pixels;
  const torch::Tensor white = sdk::decode_image(report.pictures[1]).pixels;
  EXPECT_EQ(black.sizes(), (std::vector<std::int64_t>{60, 100, 3}));
  EXPECT_EQ(white.sizes(), (std::vector<std::int64_t>{40, 60, 3}));

  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_THAT(report.problems[0].file, EndsWith("corrupt.jpg"));
  EXPECT_FALSE(report.problems[0].reason.empty());

  // Black: only the "dog" in the centre, blended at 0.5 (JPEG: approximately); the corner untouched.
  const Color dog = class_color(1), cat = class_color(0);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(pixel(black, 30, 50, c), dog[c] / 2.0, 12) << c;
    EXPECT_NEAR(pixel(black, 58, 1, c), 0, 12) << c;
  }
  // White: the whole-image "cat" (the higher score) is on top in the centre; its box's corner.
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(pixel(white, 20, 30, c), std::round((255 + cat[c]) / 2.0), 1) << c;
    EXPECT_EQ(pixel(white, 39, 59, c), cat[c]) << c;
  }
}

TEST_F(PredictImages, WritesCocoResultsForTheWholeSet) {
  options.category_ids = {7, 9};
  const PredictReport report = predict_images(*model, names, list_images(dir / "in"), dir / "out", options);
  EXPECT_EQ(report.results, dir / "out" / "predictions.json");
  std::ifstream in(report.results);
  const nlohmann::json results = nlohmann::json::parse(in);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(report.detections, 3);

  // black.jpg is image 0: one dog, box (0.5, 0.5, 0.5, 0.5) of 100 x 60.
  EXPECT_EQ(results[0]["image_id"], 0);
  EXPECT_EQ(results[0]["file_name"], "black.jpg");
  EXPECT_EQ(results[0]["category_id"], 9);
  EXPECT_EQ(results[0]["category_name"], "dog");
  EXPECT_NEAR(results[0]["score"].get<double>(), 1 / (1 + std::exp(-3.0)), 1e-6);
  const std::vector<double> box = results[0]["bbox"];
  EXPECT_NEAR(box[0], 25.0, 1e-4);
  EXPECT_NEAR(box[1], 15.0, 1e-4);
  EXPECT_NEAR(box[2], 50.0, 1e-4);
  EXPECT_NEAR(box[3], 30.0, 1e-4);
  EXPECT_EQ(results[0]["segmentation"]["size"], nlohmann::json({60, 100}));
  const sdk::RunLengths centre = sdk::masks::from_string(results[0]["segmentation"]["counts"].get<std::string>(), 60, 100);
  const torch::Tensor centre_pixels = sdk::masks::decode(centre);
  EXPECT_EQ(centre_pixels[30][50].item<int>(), 1);
  EXPECT_EQ(centre_pixels[2][2].item<int>(), 0);

  // white.png is image 2 (the corrupt file keeps its index): the whole-image cat first.
  EXPECT_EQ(results[1]["image_id"], 2);
  EXPECT_EQ(results[1]["category_id"], 7);
  EXPECT_EQ(results[1]["category_name"], "cat");
  EXPECT_GT(results[1]["score"].get<double>(), results[2]["score"].get<double>());
  const sdk::RunLengths whole = sdk::masks::from_string(results[1]["segmentation"]["counts"].get<std::string>(), 40, 60);
  EXPECT_EQ(sdk::masks::area(whole), 40u * 60u);
  EXPECT_EQ(results[2]["category_id"], 9);
}

TEST_F(PredictImages, BatchSizeDoesNotChangeTheResults) {
  const auto images = list_images(dir / "in");
  options.batch_size = 1;
  predict_images(*model, names, images, dir / "one", options);
  options.batch_size = 3;
  predict_images(*model, names, images, dir / "three", options);
  std::ifstream one(dir / "one" / "predictions.json"), three(dir / "three" / "predictions.json");
  EXPECT_EQ(nlohmann::json::parse(one), nlohmann::json::parse(three));
}

TEST_F(PredictImages, RunsOnCudaLikeOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto images = list_images(dir / "in");
  predict_images(*model, names, images, dir / "cpu", options);
  model->to(torch::kCUDA);
  const PredictReport report = predict_images(*model, names, images, dir / "cuda", options);
  EXPECT_EQ(report.pictures.size(), 2u);
  EXPECT_EQ(report.problems.size(), 1u);
  std::ifstream cpu(dir / "cpu" / "predictions.json"), cuda(dir / "cuda" / "predictions.json");
  const nlohmann::json on_cpu = nlohmann::json::parse(cpu), on_cuda = nlohmann::json::parse(cuda);
  ASSERT_EQ(on_cpu.size(), on_cuda.size());
  for (std::size_t i = 0; i < on_cpu.size(); ++i) {
    EXPECT_NEAR(on_cpu[i]["score"].get<double>(), on_cuda[i]["score"].get<double>(), 1e-5);
    EXPECT_EQ(on_cpu[i]["category_id"], on_cuda[i]["category_id"]);
    EXPECT_EQ(on_cpu[i]["segmentation"], on_cuda[i]["segmentation"]);
  }
  const torch::Tensor overlay = predict_overlay(*model, names, solid(36, 52, 0), 32, 0.5f);
  EXPECT_EQ(overlay.sizes(), (std::vector<std::int64_t>{36, 52, 3}));
}

TEST_F(PredictImages, KeepsInputsThatShareANameApartAndNeverOverwritesAnInput) {
  std::filesystem::create_directories(dir / "other");
  sdk::write_image(dir / "other" / "white.png", solid(20, 24, 255));
  const PredictReport report = predict_images(
      *model, names, {dir / "in" / "white.png", dir / "other" / "white.png"}, dir / "out", options);
  ASSERT_EQ(report.pictures.size(), 2u);
  EXPECT_EQ(report.pictures[1], dir / "out" / "white_2.png");
  EXPECT_EQ(sdk::decode_image(report.pictures[1]).pixels.size(0), 20);

  const PredictReport in_place = predict_images(*model, names, {dir / "in" / "white.png"}, dir / "in", options);
  EXPECT_TRUE(in_place.pictures.empty());
  ASSERT_EQ(in_place.problems.size(), 1u);
  EXPECT_THAT(in_place.problems[0].reason, HasSubstr("would overwrite the input"));
  EXPECT_TRUE(sdk::decode_image(dir / "in" / "white.png").pixels.eq(255).all().item<bool>());
}

TEST_F(PredictImages, RejectsBadOptions) {
  options.resolution = 0;
  EXPECT_THAT([&] { predict_images(*model, names, {}, dir / "out", options); },
              ::testing::ThrowsMessage<sdk::Error>(HasSubstr("resolution must be positive")));
  options.resolution = 32;
  options.batch_size = 0;
  EXPECT_THAT([&] { predict_images(*model, names, {}, dir / "out", options); },
              ::testing::ThrowsMessage<sdk::Error>(HasSubstr("batch size must be positive")));
}

TEST(PredictOverlay, DrawsOneImageAtItsSizeAndRestoresTrainingMode) {
  auto model = rtseg::testing::scripted_model();
  model->train(true);
  const torch::Tensor image = solid(36, 52, 0);
  const SelectedDetections detections = predict_image(*model, image, 32, 0.5f);
  EXPECT_TRUE(model->is_training());
  ASSERT_EQ(detections.scores.size(0), 1);
  EXPECT_EQ(detections.labels[0].item<std::int64_t>(), 1);
  EXPECT_EQ(detections.masks.sizes(), (std::vector<std::int64_t>{1, 36, 52}));

  const torch::Tensor overlay = predict_overlay(*model, {"cat", "dog"}, image, 32, 0.5f);
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(overlay.sizes(), image.sizes());
  EXPECT_FALSE(overlay.equal(image));
  EXPECT_TRUE(image.eq(0).all().item<bool>());  // the input is not drawn on
}

}  // namespace
}  // namespace rtseg::framework
