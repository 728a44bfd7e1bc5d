// The evaluator's other doors: a Dataset split with in-memory detections, the results writer,
// the printed summary and JSON, and the error messages for bad files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "eval_test_support.h"
#include "rtseg/framework/eval/coco_report.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"
#include "test_support.h"

namespace rtseg {
namespace {

using framework::Detection;
using framework::eval::IouType;
using ::testing::HasSubstr;
namespace eval = framework::eval;

// Two images, categories with COCO ids 5 and 9 (labels 0 and 1).
class TwoImageDataset : public sdk::Dataset {
 public:
  std::vector<sdk::Category> categories() const override { return {{5, "cat"}, {9, "dog"}}; }
  std::vector<std::string> splits() const override { return {"valid"}; }
  std::int64_t size(std::string_view) const override { return 2; }
  sdk::ImageRecord record(std::string_view, std::int64_t index) const override {
    return {index == 0 ? 11 : 12, "", 50, 40};
  }
  std::vector<sdk::Annotation> annotations(std::string_view, std::int64_t index) const override {
    sdk::Annotation a;
    a.id = index == 0 ? 0 : 7;  // id 0 is an ordinary id
    a.label = index == 0 ? 0 : 1;
    a.box_xywh = {10, 10, 20, 10};
    a.area = 200;
    a.segmentation.polygons = {{10, 10, 30, 10, 30, 20, 10, 20}};
    return {a};
  }
  sdk::Sample load(std::string_view, std::int64_t) const override { return {}; }
};

std::vector<Detection> detections() {
  Detection cat_hit{11, 0, 0.9f, {10, 10, 20, 10}, sdk::masks::from_box({10, 10, 20, 10}, 40, 50)};
  Detection dog_miss{12, 1, 0.8f, {0, 0, 5, 5}, sdk::masks::from_box({0, 0, 5, 5}, 40, 50)};
  return {cat_hit, dog_miss};
}

TEST(CocoApi, DatasetSplitWithInMemoryDetections) {
  const TwoImageDataset dataset;
  const auto truth = eval::ground_truth_from(dataset, "valid");
  for (IouType type : {IouType::kBox, IouType::kSegm}) {
    eval::EvalOptions options;
    options.iou_type = type;
    const auto results = eval::results_from(detections(), dataset.categories(), type);
    const auto metrics = eval::evaluate_coco(truth, results, options);
    // cat: found exactly (AP 1); dog: only an FP (AP 0). All GTs are small.
    eval_testing::expect_stats(metrics, {0.5, 0.5, 0.5, 0.5, -1, -1, 0.5, 0.5, 0.5, 0.5, -1, -1});
    ASSERT_EQ(metrics.categories.size(), 2u);
    EXPECT_EQ(metrics.categories[0].category_id, 5);
    EXPECT_EQ(metrics.categories[0].name, "cat");
    EXPECT_EQ(metrics.categories[0].gt_count, 1);
    EXPECT_NEAR(metrics.categories[0].ap, 1, 1e-9);
    EXPECT_NEAR(metrics.categories[1].ap50, 0, 1e-12);
    EXPECT_EQ(metrics.images, 2);
    EXPECT_EQ(metrics.detections, 2);
  }
}

TEST(CocoApi, WrittenResultsReadBackToTheSameNumbers) {
  const TwoImageDataset dataset;
  const auto truth = eval::ground_truth_from(dataset, "valid");
  rtseg::testing::TempDir dir;
  eval::write_coco_results(dir / "results.json", detections(), dataset.categories());
  const auto from_file = eval::load_results(dir / "results.json", truth);
  ASSERT_EQ(from_file.detections.size(), 2u);
  EXPECT_EQ(from_file.detections[1].category_id, 9);
  // Scores are written in their shortest float form: 0.9f reads back as 0.9 (order and ties kept).
  EXPECT_EQ(from_file.detections[0].score, 0.9);
  EXPECT_EQ(from_file.detections[0].segmentation.rle, *detections()[0].mask);
  // The file carries boxes, so loadRes' rule takes the area from them.
  EXPECT_EQ(from_file.detections[1].area, 25);
  eval::EvalOptions options;
  options.iou_type = IouType::kSegm;
  const auto metrics = eval::evaluate_coco(truth, from_file, options);
  EXPECT_NEAR(metrics.stats[eval::kAp], 0.5, 1e-9);
}

TEST(CocoApi, ResultsJsonEscapesBackslashesInCounts) {
  // A mask whose compressed counts contain '\' (value 44 = '0' + 44).
  sdk::RunLengths rle = sdk::masks::from_counts({44, 1, 55}, 10, 10);
  ASSERT_THAT(sdk::masks::to_string(rle), HasSubstr("\\"));
  Detection detection{1, 0, 0.5f, {0, 0, 1, 1}, rle};
  const std::string text = eval::coco_results_json({detection}, {{3, "x"}});
  EXPECT_THAT(text, HasSubstr("\"counts\": \"\\\\"));
  const auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json[0]["segmentation"]["counts"].get<std::string>(), sdk::masks::to_string(rle));
  EXPECT_EQ(json[0]["category_id"], 3);
}

TEST(CocoApi, SummaryLinesArePycocotoolsCharacterForCharacter) {
  std::ostringstream out;
  eval::print_summary(out, eval_testing::evaluate_case("crowd", IouType::kBox));
  // Printed by pycocotools' COCOeval.summarize() for the same files.
  EXPECT_EQ(out.str(),
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.367\n"
            " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.500\n"
            " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.333\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.367\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n");
}

TEST(CocoApi, CategoryTableAndMetricsJson) {
  const auto metrics = eval_testing::evaluate_case("empty", IouType::kBox);
  std::ostringstream table;
  eval::print_category_table(table, metrics);
  EXPECT_THAT(table.str(), HasSubstr("       1  class1           2   25.248   25.248\n"));
  EXPECT_THAT(table.str(), HasSubstr("       3  class3           0      nan      nan\n"));
  const auto json = eval::metrics_to_json(metrics);
  EXPECT_EQ(json["iou_type"], "bbox");
  EXPECT_EQ(json["images"], 4);
  EXPECT_NEAR(json["stats"]["AP"].get<double>(), 25.5 / 101, 1e-12);
  EXPECT_TRUE(json["stats"]["APm"].is_null());
  EXPECT_TRUE(json["per_category"][1]["AP"].is_null());
  EXPECT_EQ(json["per_category"][0]["gt_count"], 2);
  EXPECT_EQ(eval::stats_to_json(metrics).size(), 12u);
}

// The DataError message of `call`, or "" when it does not throw.
template <class Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  return "";
}

const char* kGt =
    R"({"images":[{"id":1,"width":10,"height":10}],"categories":[{"id":1,"name":"a"}],)"
    R"("annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,2,2],"area":4,"iscrowd":0}]})";

TEST(CocoApi, BadResultsNameTheFileTheEntryAndTheProblem) {
  const auto truth = eval::parse_ground_truth(kGt, "gt.json");
  auto parse = [&](const std::string& text) {
    return error_of([&] { eval::parse_results(text, "results.json", truth); });
  };
  const std::string good = R"({"image_id":1,"category_id":1,"bbox":[0,0,2,2],"score":0.5})";
  EXPECT_EQ(parse("[" + good + R"(,{"image_id":1,"category_id":99,"bbox":[0,0,2,2],"score":0.5}])"),
            "results.json: entry 1: category_id 99 is not in the GT");
  EXPECT_EQ(parse(R"([{"image_id":3,"category_id":1,"bbox":[0,0,2,2],"score":0.5}])"),
            "results.json: entry 0: image_id 3 is not in the GT");
  EXPECT_EQ(parse("[" + good + R"(,{"image_id":1,"category_id":1,"score":0.5}])"),
            "results.json: entry 1: missing \"bbox\" (the first result has one, so every result needs one)");
  EXPECT_EQ(parse(R"([{"image_id":1,"category_id":1,"bbox":[0,0,2],"score":0.5}])"),
            "results.json: entry 0: bbox: expected 4 numbers [x, y, w, h], got 3");
  EXPECT_EQ(parse(R"([{"image_id":1,"category_id":1,"bbox":[0,0,2,2],"score":"high"}])"),
            "results.json: entry 0: score: expected a number, got a string");
  EXPECT_THAT(parse(R"([{"image_id":1,"category_id":1,"score":0.5,"segmentation":{"size":[10,10],"counts":"zz"}}])"),
              HasSubstr("results.json: entry 0: segmentation: "));
  EXPECT_THAT(parse("[" + good), HasSubstr("results.json: invalid JSON"));
  EXPECT_THAT(parse(kGt), HasSubstr("results.json: expected a JSON list of results"));
  // An empty list is no detections.
  EXPECT_EQ(eval::parse_results("[]", "results.json", truth).detections.size(), 0u);
}

TEST(CocoApi, BadGroundTruthNamesTheFileTheEntryAndTheProblem) {
  auto parse = [](const std::string& text) {
    return error_of([&] { eval::parse_ground_truth(text, "gt.json"); });
  };
  EXPECT_EQ(parse(R"({"images":[{"id":1}],"categories":[{"id":1}],)"
                  R"("annotations":[{"id":1,"image_id":1,"category_id":1}]})"),
            "gt.json: annotations[0]: missing \"area\"");
  EXPECT_EQ(parse(R"({"images":[{"id":1},{"id":1}],"categories":[],"annotations":[]})"),
            "gt.json: images[1].id: id 1 appears twice in \"images\"");
  EXPECT_EQ(parse(R"({"images":[],"categories":[]})"), "gt.json: top level: missing \"annotations\"");
  EXPECT_EQ(parse(R"({"images":[{"id":"x"}],"categories":[],"annotations":[]})"),
            "gt.json: images[0].id: expected an integer, got a string");
  EXPECT_THAT(parse("[]"), HasSubstr("gt.json: expected a JSON object"));
  // A bbox evaluation of a GT without bbox, a segm one of a GT without segmentation.
  const auto truth = eval::parse_ground_truth(
      R"({"images":[{"id":1,"width":4,"height":4}],"categories":[{"id":1}],)"
      R"("annotations":[{"id":3,"image_id":1,"category_id":1,"area":4}]})",
      "gt.json");
  const auto results =
      eval::parse_results(R"([{"image_id":1,"category_id":1,"bbox":[0,0,2,2],"score":0.5}])", "r.json", truth);
  for (IouType type : {IouType::kBox, IouType::kSegm}) {
    eval::EvalOptions options;
    options.iou_type = type;
    EXPECT_THAT(error_of([&] { eval::evaluate_coco(truth, results, options); }),
                HasSubstr(type == IouType::kBox ? "GT annotation 3 (image 1) has no bbox"
                                                : "GT annotation 3 (image 1) has no segmentation"));
  }
}

TEST(CocoApi, IgnoreFieldIsDisregardedAndMissingIscrowdIsZero) {
  // pycocotools overwrites `ignore` with `iscrowd`: the GT still counts, so the FP gives AP 0.
  const auto truth = eval::parse_ground_truth(
      R"({"images":[{"id":1}],"categories":[{"id":1}],)"
      R"("annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,2,2],"area":4,"ignore":1}]})",
      "gt.json");
  const auto results =
      eval::parse_results(R"([{"image_id":1,"category_id":1,"bbox":[5,5,2,2],"score":0.5}])", "r.json", truth);
  const auto metrics = eval::evaluate_coco(truth, results, {});
  EXPECT_EQ(metrics.stats[eval::kAp], 0);
  EXPECT_EQ(metrics.stats[eval::kAr100], 0);
}

}  // namespace
}  // namespace rtseg
