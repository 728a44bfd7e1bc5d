#include "rtseg/framework/predict/overlay.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/bitmap_font.h"
#include "rtseg/framework/draw.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

// Two detections on a 100 x 120 grey picture: class 2 (0.9) over rows 40-79 x columns 30-89 with
// a mask on rows 50-69 x columns 40-79, and class 5 (0.4) with a mask overlapping it on the right.
SelectedDetections two_detections() {
  SelectedDetections d;
  d.scores = torch::tensor({0.9f, 0.4f});
  d.labels = torch::tensor({2, 5}, torch::kLong);
  d.boxes_xyxy = torch::tensor({30.0f, 40.0f, 90.0f, 80.0f, 60.0f, 45.0f, 110.0f, 95.0f}).view({2, 4});
  d.masks = torch::zeros({2, 100, 120}, torch::kBool);
  d.masks[0].slice(0, 50, 70).slice(1, 40, 80).fill_(true);
  d.masks[1].slice(0, 50, 90).slice(1, 70, 100).fill_(true);
  return d;
}

std::array<int, 3> rgb(const torch::Tensor& image, std::int64_t y, std::int64_t x) {
  return {image[y][x][0].item<int>(), image[y][x][1].item<int>(), image[y][x][2].item<int>()};
}

std::array<int, 3> blend(int grey, Color color) {
  std::array<int, 3> out{};
  for (int c = 0; c < 3; ++c) out[c] = static_cast<int>(std::round(grey * 0.5 + color[c] * 0.5));
  return out;
}

std::array<int, 3> as_ints(Color color) { return {color[0], color[1], color[2]}; }

TEST(Overlay, LabelsReadNameAndTwoDecimals) {
  EXPECT_EQ(detection_label(1, 0.8749f, {"cat", "dog"}), "dog 0.87");
  EXPECT_EQ(detection_label(0, 1.0f, {"cat"}), "cat 1.00");
  EXPECT_EQ(detection_label(7, 0.5f, {"cat"}), "class 7 0.50");
}

TEST(Overlay, BlendsMasksAtHalfAlphaWithTheBestOnTop) {
  const torch::Tensor grey = torch::full({100, 120, 3}, 100, torch::kByte);
  const torch::Tensor picture = draw_overlay(grey, two_detections(), {"a", "b", "c", "d", "e", "f"});
  EXPECT_EQ(picture.sizes(), grey.sizes());
  EXPECT_TRUE(grey.eq(100).all().item<bool>());  // drawn on a copy
  EXPECT_EQ(rgb(picture, 60, 50), blend(100, class_color(2)));  // first mask only
  EXPECT_EQ(rgb(picture, 85, 85), blend(100, class_color(5)));  // second mask only
  EXPECT_EQ(rgb(picture, 60, 75), blend(100, class_color(2)));  // overlap: the 0.9 detection
  EXPECT_EQ(rgb(picture, 5, 5), (std::array<int, 3>{100, 100, 100}));  // nothing there
}

TEST(Overlay, DrawsBoxesAndFilledLabelsInTheClassColour) {
  const torch::Tensor grey = torch::full({100, 120, 3}, 100, torch::kByte);
  OverlayStyle style;
  style.box_thickness = 2;
  style.text_scale = 1;
  const torch::Tensor picture = draw_overlay(grey, two_detections(), {"a", "b", "cat", "d", "e", "f"}, style);
  EXPECT_EQ(rgb(picture, 79, 35), as_ints(class_color(2)));  // bottom edge of the first box
  EXPECT_EQ(rgb(picture, 60, 31), as_ints(class_color(2)));  // left edge
  EXPECT_EQ(rgb(picture, 60, 33), (std::array<int, 3>{100, 100, 100}));  // inside, no mask
  // "cat 0.90" sits on a class-coloured box just above the first box: 8 glyphs + 1 px padding.
  const TextSize text = text_size("cat 0.90");
  const std::int64_t label_top = 40 - (text.height + 2);
  EXPECT_EQ(rgb(picture, label_top, 30), as_ints(class_color(2)));  // the padding corner
  const torch::Tensor label = picture.slice(0, label_top, 40).slice(1, 30, 30 + text.width + 2);
  const torch::Tensor ink = label.eq(torch::tensor({text_color_on(class_color(2))[0], text_color_on(class_color(2))[1],
                                                    text_color_on(class_color(2))[2]}, torch::kByte))
                                .all(2);
  EXPECT_GT(ink.sum().item<int>(), 20);  // text pixels were drawn in the contrasting colour
}

TEST(Overlay, NoDetectionsGiveTheImageBackAndBadMasksThrow) {
  const torch::Tensor grey = torch::full({10, 12, 3}, 9, torch::kByte);
  SelectedDetections none;
  none.scores = torch::zeros({0});
  none.labels = torch::zeros({0}, torch::kLong);
  none.boxes_xyxy = torch::zeros({0, 4});
  EXPECT_TRUE(draw_overlay(grey, none, {}).equal(grey));
  EXPECT_THAT([&] { draw_overlay(grey, two_detections(), {}); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("masks do not match")));
}

}  // namespace
}  // namespace rtseg::framework
