// Bad input to `rtseg train`, `rtseg predict` and `rtseg data check` as users give it: each case
// ends with an error that names the file, key or flag and the fix, with the right exit code (1 for
// a runtime failure, 2 for a usage or recipe error), never a crash or a bare library message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/tiny_flows.h"

namespace rtseg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::read_text;

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new fs::path(fs::temp_directory_path() / ("rtseg_bad_input_" + std::to_string(::getpid())));
    fs::remove_all(*work_);
    const auto synth = testing::run(testing::rtseg_binary() + " data synth --out " + (*work_ / "data").string() +
                                    " --images 12 --valid 4 --format png");
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*work_);
    delete work_;
  }

  static std::string stage1(const fs::path& data, const std::string& more = "") {
    return "train --recipe " + testing::pipeline_recipe("detector_stage1.toml") + " " +
           testing::tiny_settings(data, *work_ / "runs") + " " + more;
  }

  // Runs `rtseg ARGUMENTS`; returns the exit code and what it printed.
  static testing::CommandResult rtseg(const std::string& arguments) {
    testing::CommandResult result = testing::run(testing::rtseg_binary() + " " + arguments);
    result.out += result.err;
    return result;
  }

  static fs::path* work_;
};

fs::path* BadInput::work_ = nullptr;

struct Case {
  std::string what;
  std::string arguments;  // after `rtseg`
  int exit_code;
  std::vector<std::string> says;
};

void expect_cases(const std::vector<Case>& cases,
                  const std::function<testing::CommandResult(const std::string&)>& rtseg) {
  for (const Case& c : cases) {
    const testing::CommandResult result = rtseg(c.arguments);
    EXPECT_EQ(result.exit_code, c.exit_code) << c.what << "\n" << result.out;
    for (const std::string& text : c.says) EXPECT_THAT(result.out, HasSubstr(text)) << c.what;
    EXPECT_THAT(result.out, ::testing::Not(HasSubstr("std::bad_alloc"))) << c.what;
    EXPECT_THAT(result.out, ::testing::Not(HasSubstr("Exception raised from"))) << c.what;  // a LibTorch trace
  }
}

// Memory that cannot be had: the batch's need, measured by the planner, against the machine's.
TEST_F(BadInput, MemoryThatCannotBeHadIsReportedWithWhatItNeeds) {
  const fs::path data = *work_ / "data";
  expect_cases(
      {{"a huge --batch", stage1(data, "--batch 1048576"), 1,
        {"batch 1048576 at resolution 64 needs about", "GiB; this machine has", "for its images alone",
         "The largest batch that fits: --batch 256 --accum 16384", "Try, in this order:"}},
       {"a huge --resolution", stage1(data, "--set model.resolution=65536 --batch 1"), 1,
        {"batch 1 at resolution 65536 needs more than 48.0 GiB; this machine has", "for its images alone",
         "--resolution 55704 (from 65536)"}},
       {"a huge epochs", stage1(data, "--set train.epochs=9223372036854775807"), 2,
        {"train.epochs: must be at most 1000000"}}},
      rtseg);
}

// A dataset whose training images cannot be read is a data problem, not a loss problem.
TEST_F(BadInput, ADatasetOfUnreadableImagesSaysSo) {
  const fs::path data = *work_ / "unreadable";
  fs::copy(*work_ / "data", data, fs::copy_options::recursive);
  for (const auto& entry : fs::directory_iterator(data / "train")) {
    if (entry.path().extension() == ".png") std::ofstream(entry.path(), std::ios::trunc) << "not a png";
  }
  expect_cases({{"every training image unreadable", stage1(data), 1,
                 {"no image of the last 5 steps could be loaded", "train/", "rtseg data check --decode"}}},
               rtseg);
}

// A damaged training state, a resume of a run without one, and predict's usage errors.
TEST_F(BadInput, DamagedStatesAndBadFlagsNameTheFileOrFlag) {
  const fs::path runs = *work_ / "runs";
  fs::remove_all(runs);
  const testing::CommandResult trained = rtseg(stage1(*work_ / "data", "--max_steps 1"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const fs::path run = *fs::directory_iterator(runs);
  const fs::path state = run / "state.safetensors";
  {
    const auto saved = sdk::SafetensorsFile::open(state);
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& name : saved.names()) tensors.emplace_back(name, saved.get(name).clone());
    const std::string cut_short = "{\"format\": 1, \"epoch\": [\"x\"";
    sdk::save_safetensors(run / "damaged.safetensors", tensors, {{"rtseg.progress", cut_short}});
  }
  fs::rename(run / "damaged.safetensors", state);
  expect_cases(
      {{"a damaged state", "train --resume " + run.string(), 1,
        {state.string() + ": the training state's rtseg.progress metadata is damaged", "start the run again"}},
       {"predict --conf nan", "predict --run " + run.string() + " --source x --out y --conf nan", 2,
        {"--conf", "expected a number from 0 to 1, got nan"}},
       {"predict --batch 0", "predict --run " + run.string() + " --source x --out y --batch 0", 2, {"--batch"}},
       {"predict --source missing", "predict --run " + run.string() + " --source " + (*work_ / "nowhere").string() +
                                        " --out " + (*work_ / "pictures").string(),
        2, {"nowhere: no such image file or folder"}}},
      rtseg);
  fs::remove(state);
  expect_cases({{"a resume before the first checkpoint", "train --resume " + run.string(), 2,
                 {"has no state.safetensors: the run was stopped before its first checkpoint"}}},
               rtseg);
}

// `rtseg data check` tells scripts about problems through its exit code; a COCO file_name that
// leads outside the dataset is refused naming the annotation file and image.
TEST_F(BadInput, DataCheckExitsWithOneOnProblemsAndPathsStayInsideTheDataset) {
  const fs::path data = *work_ / "outside";
  fs::copy(*work_ / "data", data, fs::copy_options::recursive);
  expect_cases({{"a clean dataset", "data check --type coco --path " + data.string(), 0, {"0 problem(s) found"}}},
               rtseg);
  const fs::path json = data / "valid" / "_annotations.coco.json";
  std::string text = read_text(json);
  const std::size_t bbox = text.find("\"bbox\":");
  ASSERT_NE(bbox, std::string::npos) << text.substr(0, 400);
  const std::size_t open = text.find('[', bbox);
  text.replace(open + 1, text.find(']', open) - open - 1, "1, 1, 0, 0");  // an empty box: that annotation's problem
  std::ofstream(json, std::ios::trunc) << text;
  expect_cases({{"a dataset with a problem", "data check --type coco --path " + data.string(), 1,
                 {"1 problem(s) found"}}},
               rtseg);
  text = read_text(data / "train" / "_annotations.coco.json");
  const std::size_t key = text.find("\"file_name\":");
  ASSERT_NE(key, std::string::npos);
  const std::size_t name = text.find('"', key + 12) + 1;
  text.replace(name, text.find('"', name) - name, "../../../../etc/passwd");
  std::ofstream(data / "train" / "_annotations.coco.json", std::ios::trunc) << text;
  expect_cases({{"a file_name outside the dataset", "data check --type coco --path " + data.string(), 1,
                 {"train/_annotations.coco.json: image id", "file_name \"../../../../etc/passwd\" leads outside",
                  "data.allow_outside_files = true"}}},
               rtseg);
}

}  // namespace
}  // namespace rtseg
