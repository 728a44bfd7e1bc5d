// YOLO label rows to pixel annotations, and the rows that are skipped.
#include "label_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "yolo_layout.h"

namespace rtseg::plugins::yolo_seg {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::Pointwise;

TEST(LabelRows, PolygonsBecomePixelsWithExtentAndShoelaceArea) {
  // Image 10 wide, 8 high. A right triangle (1, 2) (5, 2) (5, 6): area 8.
  const LabelRows rows = parse_label_rows("2 0.1 0.25 0.5 0.25 0.5 0.75\n", 3, 10, 8);
  ASSERT_EQ(rows.annotations.size(), 1u);
  ASSERT_TRUE(rows.problems.empty());
  const sdk::Annotation& annotation = rows.annotations[0];
  EXPECT_EQ(annotation.label, 2);
  EXPECT_FALSE(annotation.is_crowd);
  ASSERT_EQ(annotation.segmentation.polygons.size(), 1u);
  EXPECT_THAT(annotation.segmentation.polygons[0],
              Pointwise(DoubleEq(), {1.0, 2.0, 5.0, 2.0, 5.0, 6.0}));
  EXPECT_THAT(annotation.box_xywh, Pointwise(DoubleEq(), {1.0, 2.0, 4.0, 4.0}));
  EXPECT_DOUBLE_EQ(annotation.area, 8.0);
}

TEST(LabelRows, BoxesHaveNoOutline) {
  const LabelRows rows = parse_label_rows("1 0.5 0.5 0.2 0.5\r\n\n   \n", 3, 10, 8);
  ASSERT_EQ(rows.annotations.size(), 1u);
  EXPECT_EQ(rows.annotations[0].label, 1);
  EXPECT_THAT(rows.annotations[0].box_xywh, Pointwise(DoubleEq(), {4.0, 2.0, 2.0, 4.0}));
  EXPECT_DOUBLE_EQ(rows.annotations[0].area, 8.0);
  EXPECT_TRUE(rows.annotations[0].segmentation.empty());
}

// Found by the yolo_label fuzz target: a box whose centre is near an edge reached outside the
// image (x -15 here); it is clipped to the image, its area with it.
TEST(LabelRows, BoxesReachingOutsideTheImageAreClipped) {
  const LabelRows rows = parse_label_rows("0 0.1 0.5 0.5 0.2\n0 1.0 1.0 0.2 0.2\n", 1, 100, 80);
  ASSERT_EQ(rows.annotations.size(), 2u);
  EXPECT_THAT(rows.annotations[0].box_xywh, Pointwise(DoubleEq(), {0.0, 32.0, 35.0, 16.0}));
  EXPECT_DOUBLE_EQ(rows.annotations[0].area, 35.0 * 16.0);
  EXPECT_THAT(rows.annotations[1].box_xywh, Pointwise(DoubleEq(), {90.0, 72.0, 10.0, 8.0}));
}

TEST(LabelRows, ValuesJustOutsideTheImageAreClamped) {
  const LabelRows rows = parse_label_rows("0 -0.005 0 1.004 0 1 1\n", 1, 100, 100);
  ASSERT_EQ(rows.annotations.size(), 1u);
  EXPECT_THAT(rows.annotations[0].segmentation.polygons[0],
              Pointwise(DoubleEq(), {0.0, 0.0, 100.0, 0.0, 100.0, 100.0}));
}

TEST(LabelRows, BadRowsAreSkippedWithTheirLine) {
  const LabelRows rows = parse_label_rows(
      "0 0.1 0.1 0.5 0.1 0.5 0.5\n"  // 1: fine
      "3 0.1 0.1 0.5 0.1 0.5 0.5\n"  // 2: class 3 of 3
      "0 0.1 0.1 0.5 0.1 0.5\n"      // 3: odd
      "0 0.1 0.1\n"                  // 4: one point
      "0 0.1 0.1 1.5 0.1 0.5 0.5\n"  // 5: out of [0, 1]
      "0 0.1 nan 0.5 0.1 0.5 0.5\n"  // 6: NaN
      "0 0.1 0.1 0.5 0.1 0.5 0.5\n"  // 7: repeats 1
      "0 0.1 0.1 0.2 0.2 0.3 0.3\n"  // 8: collinear
      "0 0.5 0.5 0 0.2\n"            // 9: zero-width box
      "x 0.5 0.5 0.1 0.2\n"          // 10: class not a number
      "-1 0.5 0.5 0.1 0.2\n",        // 11: negative class
      3, 10, 10);
  EXPECT_EQ(rows.annotations.size(), 1u);
  EXPECT_THAT(
      rows.problems,
      ElementsAre("line 2: class 3 is not in names (0..2); skipped",
                  "line 3: odd number of coordinates (5); skipped",
                  "line 4: polygon with 1 point (needs 3); skipped",
                  "line 5: value 1.5 is outside [0, 1] (coordinates are normalised); skipped",
                  "line 6: \"nan\" is not a finite number; skipped",
                  "line 7: repeats line 1; skipped", "line 8: polygon with zero area; skipped",
                  "line 9: box with zero width or height; skipped",
                  "line 10: class \"x\" is not an integer; skipped",
                  "line 11: class -1 is not in names (0..2); skipped"));
}

TEST(LabelPath, LastImagesFolderBecomesLabels) {
  EXPECT_EQ(label_path_for("/d/train/images/sub/a.jpg"), "/d/train/labels/sub/a.txt");
  EXPECT_EQ(label_path_for("/d/images/train/images/a.PNG"), "/d/images/train/labels/a.txt");
  EXPECT_EQ(label_path_for("/d/pictures/a.b.jpeg"), "/d/pictures/a.b.txt");
}

}  // namespace
}  // namespace rtseg::plugins::yolo_seg
