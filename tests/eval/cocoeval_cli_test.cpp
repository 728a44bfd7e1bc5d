// `rtseg cocoeval` as users run it: the twelve lines, --json, and errors naming the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval_test_support.h"
#include "test_support.h"

namespace rtseg {
namespace {

using rtseg::testing::CommandResult;
using ::testing::HasSubstr;

// The rtseg binary of this build; build the `rtseg` target before these tests.
const std::filesystem::path kRtseg = std::filesystem::path(RTSEG_BINARY_DIR) / "bin/rtseg";

CommandResult cocoeval(const std::string& arguments) {
  if (!std::filesystem::exists(kRtseg)) ADD_FAILURE() << kRtseg << " is missing: build the rtseg target";
  return rtseg::testing::run("env -u RTSEG_PLUGIN_PATH " + kRtseg.string() + " cocoeval " + arguments);
}

std::string case_pair(const std::string& name) {
  return eval_testing::case_file(name + "_gt.json").string() + " " +
         eval_testing::case_file(name + "_results.json").string();
}

TEST(CocoEvalCli, PrintsTheTwelveSummaryLines) {
  const CommandResult result = cocoeval(case_pair("ties") + " --iou-type bbox");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.482\n"
            " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.834\n"
            " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.332\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.482\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000\n"
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.100\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 0.767\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.767\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.767\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000\n"
            " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n");
}

TEST(CocoEvalCli, JsonIsTheListOfTwelveNumbers) {
  const CommandResult result = cocoeval(case_pair("segm") + " --iou-type segm --json --threads 2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 12u);
  const auto expected = eval_testing::evaluate_case("segm", framework::eval::IouType::kSegm);
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(json[i].get<double>(), expected.stats[i], 1e-12) << i;
  EXPECT_NEAR(json[1].get<double>(), 0.8, 1e-6);
}

TEST(CocoEvalCli, PerCategoryTableAndIdZeroNote) {
  const CommandResult plain = cocoeval(case_pair("id0") + " --iou-type bbox --per-category");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr("maxDets=100 ] = 1.000\n"));
  EXPECT_THAT(plain.out, HasSubstr("       1  class1           2  100.000  100.000\n"));
  EXPECT_THAT(plain.err, HasSubstr("has an annotation with id 0"));
  const CommandResult quirk = cocoeval(case_pair("id0") + " --iou-type bbox --pycocotools-id0");
  ASSERT_EQ(quirk.exit_code, 0) << quirk.err;
  EXPECT_THAT(quirk.out, HasSubstr("area=   all | maxDets=100 ] = 0.252\n"));
  EXPECT_EQ(quirk.err, "");
}

TEST(CocoEvalCli, ErrorsNameTheFileAndTheProblem) {
  rtseg::testing::TempDir dir;
  const auto results = dir.write("results.json", R"([{"image_id":1,"category_id":1,"bbox":[0,0,10,10],"score":0.5},
{"image_id":1,"category_id":99,"bbox":[0,0,10,10],"score":0.5}])");
  const CommandResult bad = cocoeval(eval_testing::case_file("crowd_gt.json").string() + " " + results.string() +
                                     " --iou-type bbox");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("results.json: entry 1: category_id 99 is not in the GT"));
  const CommandResult usage = cocoeval(case_pair("crowd") + " --iou-type keypoints");
  EXPECT_EQ(usage.exit_code, 2);
  const CommandResult missing = cocoeval((dir / "nope.json").string() + " " + results.string() + " --iou-type bbox");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.json"));
}

}  // namespace
}  // namespace rtseg
