// The COCO annotation parser on files written by the tests: semantics, problems, errors.
#include "coco_json.h"

#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::plugins::coco {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kImages =
    R"("images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 8}])";
const std::string kCategories = R"("categories": [{"id": 1, "name": "a"}])";

// A file with one image (10 x 8) and category 1, plus the given annotations.
std::string with_annotations(const std::string& annotations) {
  return "{" + kImages + ", " + kCategories + ", \"annotations\": [" + annotations + "]}";
}

std::string error_of(const std::string& json) {
  try {
    parse_coco_json(json, "t.json");
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  return "(no error)";
}

std::vector<std::string> problems_of(const std::string& json) {
  std::vector<std::string> reasons;
  for (const sdk::DataProblem& problem : parse_coco_json(json, "t.json").problems) {
    EXPECT_EQ(problem.file, "t.json");
    reasons.push_back(problem.reason);
  }
  return reasons;
}

TEST(CocoJson, CategoriesAreSortedByIdAndAnnotationsGetTheirIndex) {
  const CocoFile file = parse_coco_json(R"({
    "categories": [{"id": 7, "name": "seven", "supercategory": "things"}, {"id": 1, "name": "one"},
                   {"id": 3, "name": "three", "supercategory": null}],
    "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 8}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2], "area": 4},
                    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4},
                    {"id": 3, "image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2], "area": 4}]})",
                                        "t.json");
  ASSERT_EQ(file.categories.size(), 3u);
  EXPECT_EQ(file.categories[0].id, 1);
  EXPECT_EQ(file.categories[1].id, 3);
  EXPECT_EQ(file.categories[2].id, 7);
  EXPECT_EQ(file.categories[2].name, "seven");
  EXPECT_EQ(file.categories[2].supercategory, "things");
  EXPECT_EQ(file.categories[1].supercategory, "");
  EXPECT_EQ(file.categories[2].references, 2);
  EXPECT_EQ(file.categories[1].references, 0);
  ASSERT_EQ(file.images[0].annotations.size(), 3u);
  EXPECT_EQ(file.images[0].annotations[0].label, 2);
  EXPECT_EQ(file.images[0].annotations[1].label, 0);
  EXPECT_EQ(file.annotation_count, 3);
}

TEST(CocoJson, ImagesAreSortedByIdAndKeptWithoutAnnotations) {
  const CocoFile file = parse_coco_json(R"({"categories": [], "annotations": [],
    "images": [{"id": 30, "file_name": "c.png", "width": 3, "height": 4, "license": 2},
               {"id": 4, "file_name": "sub/d.jpg", "width": 5.0, "height": 6}]})",
                                        "t.json");
  ASSERT_EQ(file.images.size(), 2u);
  EXPECT_EQ(file.images[0].record.id, 4);
  EXPECT_EQ(file.images[0].record.file, "sub/d.jpg");
  EXPECT_EQ(file.images[0].record.width, 5);
  EXPECT_EQ(file.images[0].record.height, 6);
  EXPECT_EQ(file.images[1].record.id, 30);
  EXPECT_TRUE(file.images[1].annotations.empty());
  EXPECT_TRUE(file.problems.empty());
}

TEST(CocoJson, KeepsPolygonPartsBoxAreaCrowdAndIds) {
  const CocoFile file = parse_coco_json(with_annotations(R"(
    {"id": 12, "image_id": 1, "category_id": 1, "bbox": [1.5, 2, 3, 4.25], "area": 9.5,
     "iscrowd": 0,
     "segmentation": [[1, 1, 4, 1, 4, 4], [6, 6, 8, 6, 8, 7, 6, 7]]},
    {"id": 13, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 1,
     "segmentation": []},
    {"id": 14, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1,
     "iscrowd": true})"),
                                        "t.json");
  const auto& annotations = file.images[0].annotations;
  ASSERT_EQ(annotations.size(), 3u);
  EXPECT_EQ(annotations[0].id, 12);
  EXPECT_THAT(annotations[0].box_xywh, ElementsAre(1.5, 2, 3, 4.25));
  EXPECT_DOUBLE_EQ(annotations[0].area, 9.5);
  EXPECT_FALSE(annotations[0].is_crowd);
  ASSERT_EQ(annotations[0].segmentation.polygons.size(), 2u);
  EXPECT_THAT(annotations[0].segmentation.polygons[1], ElementsAre(6, 6, 8, 6, 8, 7, 6, 7));
  EXPECT_TRUE(annotations[1].is_crowd);
  EXPECT_TRUE(annotations[1].segmentation.empty());
  EXPECT_TRUE(annotations[2].is_crowd);
}

TEST(CocoJson, ReadsUncompressedAndCompressedRle) {
  at::Tensor mask = at::zeros({8, 10}, at::kByte);
  mask.select(0, 2).select(0, 3).fill_(1);
  mask.select(0, 5).select(0, 7).fill_(1);
  const sdk::RunLengths expected = sdk::masks::encode(mask);
  std::string counts;
  for (std::uint32_t count : expected.counts)
    counts += (counts.empty() ? "" : ", ") + std::to_string(count);
  const CocoFile file = parse_coco_json(
      with_annotations(
          R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [3, 2, 5, 4], "area": 2,
                          "iscrowd": 1, "segmentation": {"size": [8, 10], "counts": [)" +
          counts + R"(]}},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [3, 2, 5, 4],
                           "area": 2,
                          "segmentation": {"counts": ")" +
          sdk::masks::to_string(expected) + R"(", "size": [8, 10]}})"),
      "t.json");
  ASSERT_EQ(file.images[0].annotations.size(), 2u);
  EXPECT_EQ(file.images[0].annotations[0].segmentation.rle, expected);
  EXPECT_EQ(file.images[0].annotations[1].segmentation.rle, expected);
  EXPECT_TRUE(file.images[0].annotations[1].segmentation.polygons.empty());
}

TEST(CocoJson, MissingAreaIsTheMaskAreaOrTheBoxArea) {
  const CocoFile file = parse_coco_json(with_annotations(R"(
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2.5, 2], "segmentation": []},
    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4],
     "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]})"),
                                        "t.json");
  const auto& annotations = file.images[0].annotations;
  ASSERT_EQ(annotations.size(), 2u);
  EXPECT_DOUBLE_EQ(annotations[0].area, 5.0);
  const std::vector<std::vector<double>> square{{1, 1, 5, 1, 5, 5, 1, 5}};
  EXPECT_DOUBLE_EQ(annotations[1].area,
                   static_cast<double>(sdk::masks::area(sdk::masks::from_polygons(square, 8, 10))));
  EXPECT_GT(annotations[1].area, 0);
}

TEST(CocoJson, SkipsBadAnnotationsAndSaysWhy) {
  const std::string base = R"("image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2])";
  const std::vector<std::string> problems = problems_of(with_annotations(
      R"({"id": 1, "image_id": 99, "category_id": 1, "bbox": [0, 0, 2, 2]},
         {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, -2, 2]},
         {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 0]},
         {"id": 4, )" +
      base + R"(, "area": 0},
         {"id": 4, )" +
      base + R"(},
         {"id": 5, )" +
      base + R"(, "segmentation": [[1, 1, 2, 2]]},
         {"id": 6, )" +
      base + R"(, "segmentation": [[1, 1, 2, 2, 3]]},
         {"id": 7, )" +
      base + R"(, "segmentation": [[1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]]},
         {"id": 8, )" +
      base + R"(, "segmentation": {"size": [5, 5], "counts": [25]}},
         {"id": 9, )" +
      base + R"(, "segmentation": {"size": [8, 10], "counts": [3, 4]}},
         {"id": 10, )" +
      base + R"(, "segmentation": {"size": [8, 10], "counts": "~~~~"}},
         {"id": 11, )" +
      base + R"(, "segmentation": [1, 1, 4, 1, 4, 4]},
         {"id": 12, )" +
      base + R"(, "segmentation": {"size": [8, 10], "counts": [-1, 81]}},
         {"id": 13, )" +
      base + R"(, "segmentation": [[1e9, 1, 4, 1, 4, 4]]})"));
  ASSERT_EQ(problems.size(), 14u);
  EXPECT_EQ(problems[0], "annotations[0] (id 1): image_id 99 is not in images; skipped");
  EXPECT_EQ(problems[1],
            "annotations[1] (id 2): bbox [0, 0, -2, 2] has no positive width and height; skipped");
  EXPECT_THAT(problems[2],
              HasSubstr("bbox [0, 0, 2, 0] has no positive width and height; skipped"));
  EXPECT_EQ(problems[3], "annotations[3] (id 4): area 0.000000 is not positive; skipped");
  EXPECT_EQ(problems[4],
            "annotations[4] (id 4): the id appears again (annotations[3] has it); skipped");
  EXPECT_EQ(problems[5],
            "annotations[5] (id 5): polygon 0 has 4 numbers (2 points; pycocotools would "
            "read it as a box); no valid polygon left, skipped");
  EXPECT_EQ(problems[6],
            "annotations[6] (id 6): polygon 0 has an odd number of coordinates (5); no "
            "valid polygon left, skipped");
  EXPECT_THAT(problems[7], HasSubstr("odd number of coordinates (11)"));
  EXPECT_EQ(problems[8],
            "annotations[8] (id 8): RLE size 5 x 5 (height x width) differs from the "
            "image's 8 x 10; skipped");
  EXPECT_THAT(problems[9], HasSubstr("annotations[9] (id 9): invalid RLE ("));
  EXPECT_THAT(problems[10], HasSubstr("annotations[10] (id 10): invalid RLE ("));
  EXPECT_EQ(problems[11],
            "annotations[11] (id 11): \"segmentation\" is a flat list of numbers, not a "
            "list of polygons; skipped");
  EXPECT_EQ(problems[12],
            "annotations[12] (id 12): RLE counts must be integers from 0 to 2^32 - 1; skipped");
  EXPECT_THAT(problems[13], HasSubstr("far outside any image; no valid polygon left, skipped"));
}

TEST(CocoJson, DropsADegeneratePolygonPartButKeepsTheOthers) {
  const CocoFile file = parse_coco_json(with_annotations(R"(
    {"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 3,
     "segmentation": [[1, 1, 2, 2], [1, 1, 4, 1, 4, 4]]})"),
                                        "t.json");
  ASSERT_EQ(file.images[0].annotations.size(), 1u);
  EXPECT_THAT(file.images[0].annotations[0].segmentation.polygons,
              ElementsAre(ElementsAre(1, 1, 4, 1, 4, 4)));
  ASSERT_EQ(file.problems.size(), 1u);
  EXPECT_THAT(file.problems[0].reason, HasSubstr("polygon 0 has 4 numbers"));
  EXPECT_THAT(file.problems[0].reason, HasSubstr("dropped, the other polygons are kept"));
}

TEST(CocoJson, UnknownCategoryIsAnErrorListingTheIds) {
  const std::string json = R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],
    "categories": [{"id": 3, "name": "c"}, {"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
                    {"id": 2, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}]})";
  EXPECT_EQ(error_of(json),
            "t.json: annotations[1]: category_id 7 is not in categories (ids: 1, 2, 3)");
}

TEST(CocoJson, MalformedFilesAreErrorsNamingThePlace) {
  EXPECT_THAT(error_of(R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 4)"),
              HasSubstr("t.json: "));
  EXPECT_THAT(error_of(R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 4)"),
              HasSubstr("invalid JSON"));
  EXPECT_THAT(error_of(""), HasSubstr("t.json: top level: invalid JSON"));
  EXPECT_EQ(error_of("[1, 2]"),
            "t.json: top level: expected a JSON object with \"images\", \"annotations\" and "
            "\"categories\"");
  EXPECT_EQ(error_of("{" + kImages + ", " + kCategories + "}"),
            "t.json: top level: missing \"annotations\"");
  EXPECT_EQ(error_of(R"({"annotations": [], )" + kCategories + "}"),
            "t.json: top level: missing \"images\"");
  EXPECT_EQ(error_of(R"({"annotations": [], )" + kImages + "}"),
            "t.json: top level: missing \"categories\"");
  EXPECT_EQ(error_of(with_annotations("") + " {}"),
            "t.json: top level: unexpected content after the top-level object");
  EXPECT_EQ(error_of(R"({"images": [], "images": [], "annotations": [], "categories": []})"),
            "t.json: images: appears twice in the file");
  EXPECT_EQ(error_of(R"({"images": {}, "annotations": [], "categories": []})"),
            "t.json: images: expected an array, got an object");
}

TEST(CocoJson, WrongTypesAndMissingFieldsAreErrors) {
  auto image_error = [](const std::string& image) {
    return error_of(R"({"annotations": [], "categories": [], "images": [)" + image + "]}");
  };
  EXPECT_EQ(image_error(R"({"id": 1, "file_name": "a.jpg", "width": "10", "height": 8})"),
            "t.json: images[0].width: expected an integer, got a string");
  EXPECT_EQ(image_error(R"({"id": 1, "width": 10, "height": 8})"),
            "t.json: images[0]: missing \"file_name\"");
  EXPECT_EQ(image_error(R"({"file_name": "a", "width": 10, "height": 8})"),
            "t.json: images[0]: missing \"id\"");
  EXPECT_EQ(image_error(R"({"id": 1, "file_name": "a", "height": 8})"),
            "t.json: images[0]: missing \"width\"");
  EXPECT_EQ(image_error(R"({"id": 1, "file_name": "a", "width": 8})"),
            "t.json: images[0]: missing \"height\"");
  EXPECT_EQ(image_error(R"({"id": 1, "file_name": "a", "width": 0, "height": 8})"),
            "t.json: images[0]: width and height must be positive, got 0 x 8");
  EXPECT_EQ(image_error(R"({"id": 1, "file_name": "a", "width": 1, "height": 1},
                           {"id": 1, "file_name": "b", "width": 1, "height": 1})"),
            "t.json: images[1]: id 1 appears again (images[0] has it)");
  EXPECT_EQ(error_of(R"({"annotations": [], "images": [], "categories": [{"id": 2, "name": "x"},
                        {"id": 2, "name": "y"}]})"),
            "t.json: categories[1]: id 2 appears again (categories[0] has it)");
  EXPECT_EQ(error_of(R"({"annotations": [], "images": [], "categories": [{"id": 2}]})"),
            "t.json: categories[0]: missing \"name\"");

  EXPECT_EQ(error_of(with_annotations(
                R"({"id": 1.5, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]})")),
            "t.json: annotations[0].id: expected an integer, got 1.500000");
  EXPECT_EQ(error_of(with_annotations(
                R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]})")),
            "t.json: annotations[0].bbox: expected [x, y, width, height], got 3 numbers");
  EXPECT_EQ(error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": []})")),
            "t.json: annotations[0].bbox: expected [x, y, width, height], got 0 numbers");
  EXPECT_EQ(error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1})")),
            "t.json: annotations[0]: missing \"bbox\"");
  EXPECT_EQ(error_of(with_annotations(R"({"id": 1, "image_id": 1, "bbox": [0, 0, 1, 1]})")),
            "t.json: annotations[0]: missing \"category_id\"");
  EXPECT_EQ(error_of(with_annotations(R"({"id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]})")),
            "t.json: annotations[0]: missing \"image_id\"");
  EXPECT_EQ(
      error_of(with_annotations(R"({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]})")),
      "t.json: annotations[0]: missing \"id\"");
  EXPECT_EQ(error_of(with_annotations(
                R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, "1"]})")),
            "t.json: annotations[0].bbox: expected a number, got a string");
  EXPECT_EQ(
      error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                         "iscrowd": 2})")),
      "t.json: annotations[0].iscrowd: expected 0 or 1, got 2");
  EXPECT_EQ(
      error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                         "segmentation": "abc"})")),
      "t.json: annotations[0].segmentation: expected a list of polygons or an RLE object, got a "
      "string");
  EXPECT_EQ(
      error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                         "segmentation": {"counts": [80]}})")),
      "t.json: annotations[0].segmentation: an RLE needs \"size\": [height, width]");
  EXPECT_EQ(
      error_of(with_annotations(R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                         "segmentation": [[1, 2, "3"]]})")),
      "t.json: annotations[0].segmentation: expected a number, got a string");
}

TEST(CocoJson, AcceptsIntegralFloatIds) {
  const CocoFile file = parse_coco_json(
      with_annotations(
          R"({"id": 3.0, "image_id": 1.0, "category_id": 1e0, "bbox": [0, 0, 1, 1], "area": 1})"),
      "t.json");
  ASSERT_EQ(file.images[0].annotations.size(), 1u);
  EXPECT_EQ(file.images[0].annotations[0].id, 3);
}

TEST(CocoJson, LoadsAFileAndNamesAMissingOne) {
  EXPECT_THROW(load_coco_file("/nonexistent/x.json", "x.json"), sdk::DataError);
  try {
    load_coco_file("/nonexistent/x.json", "x.json");
  } catch (const sdk::DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("x.json: cannot read /nonexistent/x.json"));
  }
}

}  // namespace
}  // namespace rtseg::plugins::coco
