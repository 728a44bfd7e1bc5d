// The coco dataset built from folders written by the tests: layouts, categories, images, EXIF.
#include "coco_dataset.h"

#include <ATen/ops/equal.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataset_test_support.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::plugins::coco {
namespace {

using rtseg::testing::TempDir;
using rtseg::testing::context_in;
using ::testing::ElementsAre;
using rtseg::testing::gradient_image;
using ::testing::HasSubstr;
using rtseg::testing::jpeg_with_orientation;
using rtseg::testing::save_image;
using rtseg::testing::write_bytes;

// Roboflow's categories: a root "parts" (supercategory "none") above the real classes 1, 3, 7.
const std::string kRoboflowCategories = R"("categories": [
  {"id": 0, "name": "parts", "supercategory": "none"},
  {"id": 7, "name": "washer", "supercategory": "parts"},
  {"id": 1, "name": "bolt", "supercategory": "parts"},
  {"id": 3, "name": "nut", "supercategory": "parts"}])";

std::string coco_json(const std::string& images, const std::string& annotations,
                      const std::string& categories = kRoboflowCategories) {
  return "{\"info\": {}, " + categories + ", \"images\": [" + images + "], \"annotations\": [" +
         annotations + "]}";
}

std::string image_entry(int id, const std::string& file, int width, int height) {
  return R"({"id": )" + std::to_string(id) + R"(, "file_name": ")" + file + R"(", "width": )" +
         std::to_string(width) + R"(, "height": )" + std::to_string(height) + "}";
}

std::string annotation_entry(int id, int image_id, int category_id) {
  return R"({"id": )" + std::to_string(id) + R"(, "image_id": )" + std::to_string(image_id) +
         R"(, "category_id": )" + std::to_string(category_id) +
         R"(, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0,)"
         R"( "segmentation": [[1, 1, 3, 1, 3, 3]]})";
}

CocoOptions options_for(const std::string& path) {
  CocoOptions options;
  options.path = path;
  return options;
}

// dataset/{train,valid}: train has a.png (6 x 4) with a washer and a bolt, b.png (5 x 5) with
// nothing; valid has c.png with a nut. Images are gradients (PNG, lossless).
void write_roboflow_dataset(const TempDir& dir) {
  dir.write("dataset/train/_annotations.coco.json",
            coco_json(image_entry(20, "b.png", 5, 5) + ", " + image_entry(10, "a.png", 6, 4),
                      annotation_entry(1, 10, 7) + ", " + annotation_entry(2, 10, 1)));
  dir.write("dataset/valid/_annotations.coco.json",
            coco_json(image_entry(1, "c.png", 3, 3), annotation_entry(1, 1, 3)));
  save_image(dir / "dataset/train/a.png", gradient_image(4, 6, 1));
  save_image(dir / "dataset/train/b.png", gradient_image(5, 5, 2));
  save_image(dir / "dataset/valid/c.png", gradient_image(3, 3, 3));
}

TEST(CocoDataset, RoboflowLayoutDropsTheRootCategoryAndMapsIdsToLabels) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_coco(options_for("dataset"), context_in(dir.path()));

  const std::vector<sdk::Category> categories = dataset->categories();
  ASSERT_EQ(categories.size(), 3u);
  EXPECT_EQ(categories[0].id, 1);
  EXPECT_EQ(categories[0].name, "bolt");
  EXPECT_EQ(categories[1].id, 3);
  EXPECT_EQ(categories[1].name, "nut");
  EXPECT_EQ(categories[2].id, 7);
  EXPECT_EQ(categories[2].name, "washer");
  EXPECT_THAT(dataset->splits(), ElementsAre("train", "valid"));
  EXPECT_EQ(dataset->size("train"), 2);
  EXPECT_EQ(dataset->size("valid"), 1);

  const sdk::ImageRecord first = dataset->record("train", 0);  // sorted by id: a.png (10) first
  EXPECT_EQ(first.id, 10);
  EXPECT_EQ(first.file, (dir / "dataset/train/a.png").string());
  EXPECT_EQ(first.width, 6);
  EXPECT_EQ(first.height, 4);
  const std::vector<sdk::Annotation> annotations = dataset->annotations("train", 0);
  ASSERT_EQ(annotations.size(), 2u);
  EXPECT_EQ(annotations[0].label, 2);  // washer
  EXPECT_EQ(annotations[1].label, 0);  // bolt
  EXPECT_TRUE(dataset->annotations("train", 1).empty());
  EXPECT_EQ(dataset->annotations("valid", 0)[0].label, 1);  // nut

  const sdk::Sample sample = dataset->load("train", 0);
  EXPECT_EQ(sample.record.id, 10);
  EXPECT_EQ(sample.annotations.size(), 2u);
  EXPECT_TRUE(at::equal(sample.image, gradient_image(4, 6, 1)));
  EXPECT_TRUE(at::equal(dataset->load("train", 1).image, gradient_image(5, 5, 2)));
  EXPECT_TRUE(dataset->problems("train").empty());
}

TEST(CocoDataset, KeepsTheRootCategoryWhenAskedOrWhenItIsAnnotated) {
  TempDir dir;
  write_roboflow_dataset(dir);
  CocoOptions keep = options_for("dataset");
  keep.drop_root_category = false;
  const auto kept = make_coco(keep, context_in(dir.path()));
  ASSERT_EQ(kept->categories().size(), 4u);
  EXPECT_EQ(kept->categories()[0].name, "parts");
  EXPECT_EQ(kept->annotations("train", 0)[0].label, 3);

  // An annotation of category 0 in any split makes it a real class.
  dir.write("dataset/valid/_annotations.coco.json",
            coco_json(image_entry(1, "c.png", 3, 3), annotation_entry(1, 1, 0)));
  const auto used = make_coco(options_for("dataset"), context_in(dir.path()));
  EXPECT_EQ(used->categories().size(), 4u);
  EXPECT_EQ(used->annotations("valid", 0)[0].label, 0);
}

TEST(CocoDataset, DetectsTheOfficialCocoLayout) {
  TempDir dir;
  const std::string categories =
      R"("categories": [{"id": 1, "name": "person", "supercategory": "person"}])";
  dir.write(
      "coco/annotations/instances_train2017.json",
      coco_json(image_entry(9, "000000000009.png", 4, 4), annotation_entry(1, 9, 1), categories));
  dir.write("coco/annotations/instances_val2017.json",
            coco_json(image_entry(5, "000000000005.png", 4, 4), "", categories));
  dir.write("coco/annotations/captions_train2017.json", "not read");
  std::filesystem::create_directories(dir / "coco/train2017");
  std::filesystem::create_directories(dir / "coco/val2017");
  const auto dataset = make_coco(options_for((dir / "coco").string()), context_in("/elsewhere"));
  EXPECT_THAT(dataset->splits(), ElementsAre("train", "valid"));
  EXPECT_EQ(dataset->record("train", 0).file, (dir / "coco/train2017/000000000009.png").string());
  EXPECT_EQ(dataset->record("valid", 0).file, (dir / "coco/val2017/000000000005.png").string());
  EXPECT_EQ(dataset->annotations("train", 0).size(), 1u);
}

TEST(CocoDataset, CustomLayoutFromOptions) {
  TempDir dir;
  dir.write("data/labels/train.json",
            coco_json(image_entry(1, "x.png", 4, 4), annotation_entry(1, 1, 1)));
  dir.write("data/labels/test.json", coco_json(image_entry(1, "y.png", 4, 4), ""));
  std::filesystem::create_directories(dir / "data/pictures");
  CocoOptions options = options_for("data");
  options.train_json = "labels/train.json";
  options.train_images = "pictures";
  options.test_json = "labels/test.json";
  const auto dataset = make_coco(options, context_in(dir.path()));
  EXPECT_THAT(dataset->splits(), ElementsAre("train", "test"));
  EXPECT_EQ(dataset->record("train", 0).file, (dir / "data/pictures/x.png").string());
  EXPECT_EQ(dataset->record("test", 0).file, (dir / "data/labels/y.png").string());
}

std::string build_error(const CocoOptions& options, const std::filesystem::path& recipe_dir) {
  try {
    make_coco(options, context_in(recipe_dir));
  } catch (const sdk::Error& error) {
    return error.what();
  }
  return "(no error)";
}

// A downloaded annotation file cannot make rtseg open a file outside the dataset: an absolute
// file_name or one that climbs out with ../ is refused with the file and image named, unless the
// recipe allows it (data.allow_outside_files); ../ that stays inside is fine.
TEST(CocoDataset, FileNamesMayNotLeadOutsideTheDataset) {
  TempDir dir;
  write_roboflow_dataset(dir);
  for (const std::string& file_name : {std::string("../../../etc/passwd"), std::string("/etc/passwd")}) {
    dir.write("dataset/train/_annotations.coco.json",
              coco_json(image_entry(10, "a.png", 6, 4) + ", " + image_entry(11, file_name, 5, 5), ""));
    const std::string error = build_error(options_for("dataset"), dir.path());
    EXPECT_THAT(error, HasSubstr("train/_annotations.coco.json: image id 11: file_name \"" + file_name +
                                 "\" leads outside the dataset folder"));
    EXPECT_THAT(error, HasSubstr("data.allow_outside_files = true"));
    CocoOptions allowed = options_for("dataset");
    allowed.allow_outside_files = true;
    EXPECT_EQ(make_coco(allowed, context_in(dir.path()))->record("train", 1).file,
              (dir / "dataset/train" / file_name).string());
  }
  dir.write("dataset/train/_annotations.coco.json", coco_json(image_entry(10, "../valid/c.png", 3, 3), ""));
  EXPECT_EQ(make_coco(options_for("dataset"), context_in(dir.path()))->size("train"), 1);
}

TEST(CocoDataset, LayoutErrorsSayWhatWasExpected) {
  TempDir dir;
  EXPECT_EQ(build_error(options_for("missing"), dir.path()),
            "coco dataset: path \"missing\" (" + (dir / "missing").string() + ") is not a folder");
  std::filesystem::create_directories(dir / "empty");
  EXPECT_THAT(build_error(options_for("empty"), dir.path()),
              HasSubstr("no annotation files in " + (dir / "empty").string() +
                        ": expected Roboflow's layout (train/_annotations.coco.json"));
  dir.write("two/annotations/instances_train2014.json", "{}");
  dir.write("two/annotations/instances_train2017.json", "{}");
  EXPECT_THAT(build_error(options_for("two"), dir.path()),
              HasSubstr("has several train annotation files (instances_train2014.json, "
                        "instances_train2017.json); choose one with train_json and train_images"));
  dir.write("noimages/annotations/instances_val2017.json", "{}");
  EXPECT_THAT(build_error(options_for("noimages"), dir.path()), HasSubstr("has no image folder"));
  CocoOptions custom = options_for("empty");
  custom.valid_json = "nope.json";
  EXPECT_THAT(build_error(custom, dir.path()),
              HasSubstr("valid_json: " + (dir / "empty/nope.json").string() + " is not a file"));
  EXPECT_THAT(build_error(options_for("empty"), dir.path()), HasSubstr("coco dataset:"));
}

TEST(CocoDataset, SplitsMustListTheSameCategories) {
  TempDir dir;
  write_roboflow_dataset(dir);
  dir.write("dataset/valid/_annotations.coco.json",
            coco_json(image_entry(1, "c.png", 3, 3), "",
                      R"("categories": [{"id": 0, "name": "parts", "supercategory": "none"},
                                        {"id": 1, "name": "screw"}, {"id": 3, "name": "nut"},
                                        {"id": 7, "name": "washer"}])"));
  EXPECT_EQ(build_error(options_for("dataset"), dir.path()),
            "valid/_annotations.coco.json: the splits must list the same categories: category 1 "
            "\"screw\" differs from train/_annotations.coco.json's 1 \"bolt\"");
}

TEST(CocoDataset, BadAnnotationsAreProblemsOfTheirFile) {
  TempDir dir;
  write_roboflow_dataset(dir);
  dir.write("dataset/valid/_annotations.coco.json",
            coco_json(image_entry(1, "c.png", 3, 3),
                      annotation_entry(1, 1, 3) + ", " + annotation_entry(2, 5, 3)));
  const auto dataset = make_coco(options_for("dataset"), context_in(dir.path()));
  const std::vector<sdk::DataProblem> problems = dataset->problems("valid");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].file, "valid/_annotations.coco.json");
  EXPECT_EQ(problems[0].reason, "annotations[1] (id 2): image_id 5 is not in images; skipped");
  EXPECT_EQ(dataset->annotations("valid", 0).size(), 1u);
}

TEST(CocoDataset, ErrorsInAFileNameIt) {
  TempDir dir;
  write_roboflow_dataset(dir);
  dir.write("dataset/valid/_annotations.coco.json",
            coco_json(image_entry(1, "c.png", 3, 3), annotation_entry(1, 1, 4)));
  EXPECT_EQ(build_error(options_for("dataset"), dir.path()),
            "valid/_annotations.coco.json: annotations[0]: category_id 4 is not in categories "
            "(ids: 0, 1, 3, 7)");
}

// A 6 x 4 (width x height) JPEG stored with EXIF orientation 6: viewers show it 4 x 6.
void write_rotated_dataset(const TempDir& dir, int json_width, int json_height) {
  write_bytes(dir / "rot/train/r.jpg", jpeg_with_orientation(gradient_image(4, 6), 6));
  dir.write("rot/train/_annotations.coco.json",
            coco_json(image_entry(1, "r.jpg", json_width, json_height), annotation_entry(1, 1, 1)));
}

TEST(CocoDataset, ExifOrientationFollowsTheAnnotationFile) {
  TempDir oriented;
  write_rotated_dataset(oriented, 4, 6);  // annotated as a viewer shows it
  EXPECT_EQ(
      make_coco(options_for("rot"), context_in(oriented.path()))->load("train", 0).image.sizes(),
      (std::vector<std::int64_t>{6, 4, 3}));

  TempDir stored;
  write_rotated_dataset(stored, 6, 4);  // annotated on the stored pixels
  const sdk::Sample sample =
      make_coco(options_for("rot"), context_in(stored.path()))->load("train", 0);
  EXPECT_EQ(sample.image.sizes(), (std::vector<std::int64_t>{4, 6, 3}));

  TempDir neither;
  write_rotated_dataset(neither, 5, 5);
  const auto dataset = make_coco(options_for("rot"), context_in(neither.path()));
  try {
    dataset->load("train", 0);
    FAIL() << "expected a DataError";
  } catch (const sdk::DataError& error) {
    EXPECT_EQ(std::string(error.what()), (neither / "rot/train/r.jpg").string() +
                                             ": image is 4 x 6 (stored 6 x 4, EXIF orientation 6) "
                                             "but the annotation file says 5 x 5");
  }
}

TEST(CocoDataset, AMissingOrCorruptImageFailsLoadNamingTheFile) {
  TempDir dir;
  write_roboflow_dataset(dir);
  std::filesystem::remove(dir / "dataset/train/a.png");
  dir.write("dataset/train/b.png", "not a png");
  const auto dataset = make_coco(options_for("dataset"), context_in(dir.path()));  // lazy: builds
  EXPECT_EQ(dataset->size("train"), 2);
  for (int index : {0, 1}) {
    try {
      dataset->load("train", index);
      FAIL() << "expected a DataError";
    } catch (const sdk::DataError& error) {
      EXPECT_THAT(error.what(), HasSubstr(index == 0 ? "a.png" : "b.png"));
    }
  }
}

TEST(CocoDataset, HeaderCheckLeavesOutUnreadableAndMismatchedImages) {
  TempDir dir;
  write_roboflow_dataset(dir);
  std::filesystem::remove(dir / "dataset/train/a.png");
  save_image(dir / "dataset/train/b.png", gradient_image(7, 5));  // the file says 5 x 5
  CocoOptions options = options_for("dataset");
  options.image_check = "header";
  const auto dataset = make_coco(options, context_in(dir.path()));
  EXPECT_EQ(dataset->size("train"), 0);
  EXPECT_EQ(dataset->size("valid"), 1);
  const std::vector<sdk::DataProblem> problems = dataset->problems("train");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].file, "train/_annotations.coco.json");
  EXPECT_THAT(problems[0].reason, HasSubstr("image 10 left out: "));
  EXPECT_THAT(problems[0].reason, HasSubstr("a.png"));
  EXPECT_THAT(problems[1].reason,
              HasSubstr("b.png: image is 5 x 7 but the annotation file says 5 x 5"));
}

TEST(CocoDataset, LoadsFromSeveralThreadsAtOnce) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_coco(options_for("dataset"), context_in(dir.path()));
  EXPECT_EQ(rtseg::testing::concurrent_load_mismatches(*dataset, "train", {gradient_image(4, 6, 1), gradient_image(5, 5, 2)},
                                                       {2u, 0u}),
            0);
}

TEST(CocoDataset, UnknownSplitOrIndexIsAnError) {
  TempDir dir;
  write_roboflow_dataset(dir);
  const auto dataset = make_coco(options_for("dataset"), context_in(dir.path()));
  try {
    dataset->size("val");
    FAIL();
  } catch (const sdk::DataError& error) {
    EXPECT_STREQ(error.what(), "coco dataset: no split \"val\" (it has: train, valid)");
  }
  EXPECT_THROW(dataset->record("train", 2), sdk::DataError);
  EXPECT_THROW(dataset->annotations("train", -1), sdk::DataError);
}

}  // namespace
}  // namespace rtseg::plugins::coco
