// The yolo_seg dataset built from folders written by the tests.
#include "yolo_dataset.h"

#include <ATen/ops/equal.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataset_test_support.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::plugins::yolo_seg {
namespace {

using rtseg::testing::TempDir;
using rtseg::testing::context_in;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using rtseg::testing::gradient_image;
using ::testing::HasSubstr;
using rtseg::testing::jpeg_with_orientation;
using ::testing::Pointwise;
using rtseg::testing::save_image;
using rtseg::testing::write_bytes;

YoloSegOptions options_for(const std::string& path) {
  YoloSegOptions options;
  options.path = path;
  return options;
}

// Roboflow's YOLO export: ds/data.yaml with ../train/images; train has a.png (10 x 8) with a
// triangle and a box, b.png (4 x 4) without a label file; valid has c.png with an empty label file.
void write_roboflow_dataset(const TempDir& dir) {
  dir.write("ds/data.yaml",
            "train: ../train/images\nval: ../valid/images\n\nnc: 2\nnames: ['bolt', 'nut']\n"
            "roboflow:\n  workspace: w\n  url: https://example.com/x\n");
  save_image(dir / "ds/train/images/a.png", gradient_image(8, 10, 1));
  save_image(dir / "ds/train/images/b.png", gradient_image(4, 4, 2));
  save_image(dir / "ds/valid/images/c.png", gradient_image(3, 5, 3));
  dir.write("ds/train/labels/a.txt", "1 0.1 0.25 0.5 0.25 0.5 0.75\n0 0.5 0.5 0.2 0.5\n");
  dir.write("ds/valid/labels/c.txt", "");
}

TEST(YoloSegDataset, RoboflowLayoutToPixelAnnotations) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_yolo_seg(options_for("ds"), context_in(dir.path()));
  const std::vector<sdk::Category> categories = dataset->categories();
  ASSERT_EQ(categories.size(), 2u);
  EXPECT_EQ(categories[0].id, 0);
  EXPECT_EQ(categories[0].name, "bolt");
  EXPECT_EQ(categories[1].id, 1);
  EXPECT_EQ(categories[1].name, "nut");
  EXPECT_THAT(dataset->splits(), ElementsAre("train", "valid"));
  ASSERT_EQ(dataset->size("train"), 2);
  EXPECT_EQ(dataset->size("valid"), 1);

  const sdk::ImageRecord a = dataset->record("train", 0);
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(a.file, (dir / "ds/train/images/a.png").string());
  EXPECT_EQ(a.width, 10);
  EXPECT_EQ(a.height, 8);
  const std::vector<sdk::Annotation> annotations = dataset->annotations("train", 0);
  ASSERT_EQ(annotations.size(), 2u);
  EXPECT_EQ(annotations[0].id, 1);
  EXPECT_EQ(annotations[0].label, 1);
  EXPECT_THAT(annotations[0].segmentation.polygons[0],
              Pointwise(DoubleEq(), {1.0, 2.0, 5.0, 2.0, 5.0, 6.0}));
  EXPECT_DOUBLE_EQ(annotations[0].area, 8.0);
  EXPECT_EQ(annotations[1].id, 2);
  EXPECT_THAT(annotations[1].box_xywh, Pointwise(DoubleEq(), {4.0, 2.0, 2.0, 4.0}));
  EXPECT_TRUE(annotations[1].segmentation.empty());
  EXPECT_EQ(dataset->record("train", 1).id, 2);
  EXPECT_TRUE(dataset->annotations("train", 1).empty());
  EXPECT_TRUE(dataset->annotations("valid", 0).empty());

  const sdk::Sample sample = dataset->load("train", 0);
  EXPECT_TRUE(at::equal(sample.image, gradient_image(8, 10, 1)));
  EXPECT_EQ(sample.annotations.size(), 2u);
  EXPECT_TRUE(dataset->problems("train").empty());
}

TEST(YoloSegDataset, PathMayNameTheYamlAndEntriesMayBeListsAndFiles) {
  TempDir dir;
  write_roboflow_dataset(dir);
  dir.write("ds/lists/train.txt", "../train/images/b.png\n\n  ./../train/images/a.png \n");
  dir.write(
      "ds/custom.yml",
      "path: .\ntrain: lists/train.txt\ntest: [valid/images/c.png]\nnames: {0: bolt, 1: nut}\n");
  const auto dataset =
      make_yolo_seg(options_for((dir / "ds/custom.yml").string()), context_in("/elsewhere"));
  EXPECT_THAT(dataset->splits(), ElementsAre("train", "test"));
  EXPECT_EQ(dataset->size("train"), 2);
  EXPECT_THAT(dataset->record("train", 0).file, HasSubstr("a.png"));  // sorted by path
  EXPECT_EQ(dataset->annotations("train", 0).size(), 2u);
  EXPECT_EQ(dataset->size("test"), 1);
}

// data.yaml entries and image lists may not lead outside the folder of data.yaml (absolute paths,
// ../ out of it) unless the recipe allows it; Roboflow's ../train/images (found inside) is fine.
TEST(YoloSegDataset, EntriesMayNotLeadOutsideTheDataset) {
  TempDir dir;
  write_roboflow_dataset(dir);
  save_image(dir / "elsewhere/images/x.png", gradient_image(4, 4, 4));
  const auto error_of = [&](const YoloSegOptions& options) {
    try {
      make_yolo_seg(options, context_in(dir.path()));
    } catch (const sdk::Error& error) {
      return std::string(error.what());
    }
    return std::string("(no error)");
  };
  dir.write("ds/data.yaml", "train: " + (dir / "elsewhere/images").string() + "\nnames: [bolt, nut]\n");
  EXPECT_THAT(error_of(options_for("ds")), HasSubstr("data.yaml: train: \"" + (dir / "elsewhere/images").string()));
  EXPECT_THAT(error_of(options_for("ds")), HasSubstr("leads outside the dataset folder"));
  dir.write("ds/data.yaml", "train: list.txt\nnames: [bolt, nut]\n");
  dir.write("ds/list.txt", "train/images/a.png\n../elsewhere/images/x.png\n");
  EXPECT_THAT(error_of(options_for("ds")),
              HasSubstr("list.txt:2: \"../elsewhere/images/x.png\" leads outside the dataset folder"));
  YoloSegOptions allowed = options_for("ds");
  allowed.allow_outside_files = true;
  EXPECT_EQ(make_yolo_seg(allowed, context_in(dir.path()))->size("train"), 2);
}

TEST(YoloSegDataset, BadRowsAndImagesAreProblems) {
  TempDir dir;
  write_roboflow_dataset(dir);
  dir.write("ds/train/labels/a.txt",
            "1 0.1 0.25 0.5 0.25 0.5 0.75\n5 0.5 0.5 0.2 0.5\n0 0.1 0.1 0.2\n");
  dir.write("ds/train/images/broken.png", "not a png");
  dir.write("ds/train/images/old.bmp", "BM");
  dir.write("ds/train/images/notes.md", "ignored");
  const auto dataset = make_yolo_seg(options_for("ds/data.yaml"), context_in(dir.path()));
  EXPECT_EQ(dataset->size("train"), 2);  // a, b; broken.png left out
  EXPECT_EQ(dataset->annotations("train", 0).size(), 1u);
  const std::vector<sdk::DataProblem> problems = dataset->problems("train");
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].file, "train/images/old.bmp");
  EXPECT_EQ(problems[0].reason, "unsupported image format (rtseg reads JPEG and PNG); skipped");
  EXPECT_EQ(problems[1].file, "train/labels/a.txt");
  EXPECT_EQ(problems[1].reason, "line 2: class 5 is not in names (0..1); skipped");
  EXPECT_EQ(problems[2].reason, "line 3: odd number of coordinates (3); skipped");
  EXPECT_EQ(problems[3].file, "train/images/broken.png");
  EXPECT_THAT(problems[3].reason, HasSubstr("image left out: "));
}

TEST(YoloSegDataset, LabelsAreRelativeToTheImageAsShown) {
  TempDir dir;
  dir.write("ds/data.yaml", "train: images\nnames: [x]\n");
  // Stored 6 wide and 4 high with EXIF orientation 6: shown 4 wide and 6 high.
  write_bytes(dir / "ds/images/r.jpg", jpeg_with_orientation(gradient_image(4, 6), 6));
  dir.write("ds/labels/r.txt", "0 0.5 0.5 0.5 0.5\n");
  const auto dataset = make_yolo_seg(options_for("ds"), context_in(dir.path()));
  const sdk::ImageRecord record = dataset->record("train", 0);
  EXPECT_EQ(record.width, 4);
  EXPECT_EQ(record.height, 6);
  EXPECT_THAT(dataset->annotations("train", 0)[0].box_xywh,
              Pointwise(DoubleEq(), {1.0, 1.5, 2.0, 3.0}));
  EXPECT_EQ(dataset->load("train", 0).image.sizes(), (std::vector<std::int64_t>{6, 4, 3}));
}

std::string build_error(const std::string& path, const std::filesystem::path& recipe_dir) {
  try {
    make_yolo_seg(options_for(path), context_in(recipe_dir));
  } catch (const sdk::Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(YoloSegDataset, LayoutErrors) {
  TempDir dir;
  EXPECT_EQ(build_error("nope", dir.path()),
            "yolo_seg dataset: path \"nope\" (" + (dir / "nope").string() + ") does not exist");
  std::filesystem::create_directories(dir / "empty");
  EXPECT_EQ(build_error("empty", dir.path()),
            "yolo_seg dataset: " + (dir / "empty").string() +
                " has no data.yaml or data.yml; set path to the dataset's YAML file");
  dir.write("bad/data.yaml", "train: ../missing/images\nnames: [x]\n");
  EXPECT_EQ(build_error("bad", dir.path()),
            (dir / "bad/data.yaml").string() +
                ": train: " + (dir / "bad/../missing/images").string() + " does not exist");
  dir.write("bad2/data.yml", "train: images\nnames: [[x]]\n");
  EXPECT_THAT(build_error("bad2", dir.path()),
              HasSubstr("data.yml:2: names: not in the YAML subset"));
}

TEST(YoloSegDataset, ChangedImageFailsLoadAndMissingSplitIsAnError) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_yolo_seg(options_for("ds"), context_in(dir.path()));
  save_image(dir / "ds/train/images/b.png", gradient_image(5, 4));
  try {
    dataset->load("train", 1);
    FAIL();
  } catch (const sdk::DataError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("b.png: image is 4 x 5 but was 4 x 4 when the dataset was built"));
  }
  EXPECT_THROW(dataset->size("test"), sdk::DataError);
  EXPECT_THROW(dataset->record("train", 5), sdk::DataError);
}

TEST(YoloSegDataset, LoadsFromSeveralThreadsAtOnce) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_yolo_seg(options_for("ds"), context_in(dir.path()));
  EXPECT_EQ(rtseg::testing::concurrent_load_mismatches(*dataset, "train", {gradient_image(8, 10, 1), gradient_image(4, 4, 2)},
                                                       {2u, 0u}),
            0);
}

}  // namespace
}  // namespace rtseg::plugins::yolo_seg
