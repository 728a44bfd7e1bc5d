// The training engine end to end on a tiny model: run folders, exact resume, signals, stages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/stop_signal.h"
#include "rtseg/framework/train/training_state.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/train_test_support.h"

namespace rtseg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using framework::train::PipelineOptions;
using framework::train::run_pipeline;

fs::path fresh_folder(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / ("rtseg_train_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

using testing::read_text;

// Every tensor of two weight files, compared exactly.
void expect_same_weights(const fs::path& a, const fs::path& b) {
  const auto left = sdk::SafetensorsFile::open(a), right = sdk::SafetensorsFile::open(b);
  ASSERT_EQ(left.names(), right.names());
  for (const auto& name : left.names()) {
    EXPECT_TRUE(torch::equal(left.get(name), right.get(name))) << name;
  }
}

TEST(Trainer, WritesARunFolderUsersCanTrust) {
  const fs::path runs = fresh_folder("folder");
  auto runtime = testing::make_test_runtime();
  const auto stages = run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs)), PipelineOptions{});
  ASSERT_EQ(stages.size(), 1u);
  const fs::path run = stages[0].run;
  EXPECT_EQ(run.filename(), "train_test_64_1");
  for (const char* file : {"recipe.toml", "log.txt", "metrics.jsonl", "results.csv", "curves.png",
                           "state.safetensors", "weights/last.safetensors", "weights/best.safetensors",
                           "results.json"}) {
    EXPECT_TRUE(fs::is_regular_file(run / file)) << file;
  }
  bool events = false;
  for (const auto& entry : fs::directory_iterator(run)) {
    events |= entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  EXPECT_TRUE(events);
  // Two epochs: a header and two rows with the box metrics.
  const std::string csv = read_text(run / "results.csv");
  EXPECT_THAT(csv, HasSubstr("metrics/mAP50-95(B)"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_THAT(read_text(run / "log.txt"), HasSubstr("training 2 epochs x 5 steps"));
  ASSERT_TRUE(stages[0].outcome.best.has_value());
  EXPECT_EQ(stages[0].outcome.steps, 10);

  // The next run of the same kind gets the next number.
  const auto again = run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs, "[train.loss]\naux_loss = true\n")),
                                  PipelineOptions{});
  EXPECT_EQ(again[0].run.filename(), "train_test_64_2");
  fs::remove_all(runs);
}

TEST(Trainer, ResumingGivesExactlyTheUninterruptedRun) {
  const fs::path runs = fresh_folder("resume");
  auto runtime = testing::make_test_runtime();
  // Two epochs in one go ...
  const auto whole = run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs, "", true)), PipelineOptions{});
  // ... and one epoch, then a resume to two.
  framework::LoadedRecipe first = testing::loaded(testing::tiny_recipe(runs, "", true));
  framework::apply_overrides(first.document, {framework::Override{"train.epochs", "1", ""}});
  const auto half = run_pipeline(*runtime, first, PipelineOptions{});
  const double seconds_before = framework::train::read_progress(half[0].run / "state.safetensors").seconds;
  EXPECT_GT(seconds_before, 0);
  PipelineOptions resume;
  resume.resume = half[0].run;
  framework::LoadedRecipe more;
  more.overrides = {framework::Override{"train.epochs", "2", "--epochs"}};
  const auto rest = run_pipeline(*runtime, more, resume);
  ASSERT_EQ(rest[0].run, half[0].run);
  EXPECT_EQ(rest[0].outcome.steps, whole[0].outcome.steps);
  expect_same_weights(whole[0].run / "weights" / "last.safetensors", half[0].run / "weights" / "last.safetensors");
  expect_same_weights(whole[0].run / "state.safetensors", half[0].run / "state.safetensors");
  // The completed epoch's rows survive the resume, and the time column runs on.
  const std::string csv = read_text(half[0].run / "results.csv");
  ASSERT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  const std::size_t second_row = csv.find("\n2,");
  ASSERT_NE(csv.find("\n1,"), std::string::npos) << csv;
  ASSERT_NE(second_row, std::string::npos) << csv;
  EXPECT_GT(std::stod(csv.substr(second_row + 3)), seconds_before);
  const std::string jsonl = read_text(half[0].run / "metrics.jsonl");
  EXPECT_THAT(jsonl, HasSubstr("{\"kind\":\"epoch\",\"epoch\":1,"));
  EXPECT_THAT(jsonl, HasSubstr("{\"kind\":\"epoch\",\"epoch\":2,"));
  fs::remove_all(runs);
}

// Stage 2 trains one optimizer group over the head; its resume freezes the detector again
// (before, it built every group and failed on the state's moments).
TEST(Trainer, AStage2RunResumesWithItsDetectorFrozen) {
  const fs::path runs = fresh_folder("stage2_resume");
  auto runtime = testing::make_test_runtime();
  const auto stages = [&](int epochs) {
    return testing::tiny_recipe(runs, "[[stage]]\nname = \"detector\"\n[stage.train]\nepochs = 1\n\n"
                                      "[[stage]]\nname = \"segmentation\"\ninit_from = \"detector\"\n"
                                      "freeze = [\"backbone\", \"decoder\"]\n[stage.model.seg_head]\n"
                                      "type = \"rfdetr_mask\"\n[stage.train]\naccum = 2\nepochs = " +
                                          std::to_string(epochs) + "\n");
  };
  const auto whole = run_pipeline(*runtime, testing::loaded(stages(2)), PipelineOptions{});
  const auto half = run_pipeline(*runtime, testing::loaded(stages(1)), PipelineOptions{});
  PipelineOptions resume;
  resume.resume = half[1].run;
  framework::LoadedRecipe more;
  more.overrides = {framework::Override{"train.epochs", "2", "--epochs"}};
  const auto rest = run_pipeline(*runtime, more, resume);
  EXPECT_EQ(rest[0].outcome.steps, whole[1].outcome.steps);
  EXPECT_EQ(framework::train::read_progress(half[1].run / "state.safetensors").freeze,
            (std::vector<std::string>{"backbone", "decoder"}));
  expect_same_weights(whole[1].run / "weights" / "last.safetensors", half[1].run / "weights" / "last.safetensors");
  fs::remove_all(runs);
}

// A run stopped before its first checkpoint has nothing to resume: the message says so and why.
TEST(Trainer, AResumeWithoutACheckpointSaysWhy) {
  const fs::path runs = fresh_folder("no_checkpoint");
  fs::create_directories(runs / "train_test_64_1");
  std::ofstream(runs / "train_test_64_1" / "recipe.toml") << testing::tiny_recipe(runs);
  auto runtime = testing::make_test_runtime();
  PipelineOptions resume;
  resume.resume = runs / "train_test_64_1";
  try {
    run_pipeline(*runtime, framework::LoadedRecipe{}, resume);
    FAIL() << "expected an error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("has no state.safetensors: the run was stopped before its first checkpoint "
                                        "(at the end of epoch 1 or after train.checkpoint_every = \"15 min\""));
    EXPECT_THAT(error.what(), HasSubstr("start the run again"));
  }
  fs::remove_all(runs);
}

TEST(Trainer, ASignalSavesTheStateAndTheRunContinuesFromIt) {
  const fs::path runs = fresh_folder("signal");
  auto runtime = testing::make_test_runtime();
  framework::train::StopSignal::request(SIGINT);  // as if Ctrl-C came during the first step
  const auto stopped = run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs)), PipelineOptions{});
  framework::train::StopSignal::reset();
  ASSERT_TRUE(stopped[0].outcome.interrupted);
  EXPECT_EQ(stopped[0].outcome.steps, 1);
  const auto state = sdk::SafetensorsFile::open(stopped[0].run / "state.safetensors");
  EXPECT_THAT(state.metadata().at("rtseg.progress"), HasSubstr("\"batch\":1"));

  PipelineOptions resume;
  resume.resume = stopped[0].run;
  const auto finished = run_pipeline(*runtime, framework::LoadedRecipe{}, resume);
  EXPECT_FALSE(finished[0].outcome.interrupted);
  EXPECT_EQ(finished[0].outcome.steps, 10);
  fs::remove_all(runs);
}

TEST(Trainer, TwoStagePipelineFreezesTheDetectorAndTrainsTheHead) {
  const fs::path runs = fresh_folder("pipeline");
  auto runtime = testing::make_test_runtime();
  const std::string stages = R"(
[[stage]]
name = "detector"
[stage.train]
epochs = 1

[[stage]]
name = "segmentation"
init_from = "detector"
freeze = ["backbone", "decoder"]
[stage.model.seg_head]
type = "rfdetr_mask"
[stage.train]
epochs = 1
)";
  const auto done = run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs, stages)), PipelineOptions{});
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].run.filename(), "detector_test_64_1");
  EXPECT_EQ(done[1].run.filename(), "segmentation_test_64_1");
  ASSERT_TRUE(done[1].outcome.best && done[1].outcome.best->mask);
  // The detector's weights are the stage-1 weights, unchanged; the head's are new.
  const auto detector = sdk::SafetensorsFile::open(done[0].outcome.best_weights);
  const auto segmenter = sdk::SafetensorsFile::open(done[1].outcome.last_weights);
  std::int64_t head = 0;
  for (const auto& name : segmenter.names()) {
    if (name.rfind("segmentation_head.", 0) == 0) {
      ++head;
      continue;
    }
    if (name.find("num_batches_tracked") != std::string::npos) continue;
    EXPECT_TRUE(torch::equal(detector.get(name), segmenter.get(name))) << name;
  }
  EXPECT_GT(head, 0);
  fs::remove_all(runs);
}

TEST(Trainer, AFrozenEverythingStageIsAClearError) {
  const fs::path runs = fresh_folder("frozen");
  auto runtime = testing::make_test_runtime();
  const std::string stages = "[[stage]]\nname = \"nothing\"\nfreeze = [\"backbone\", \"decoder\"]\n";
  try {
    run_pipeline(*runtime, testing::loaded(testing::tiny_recipe(runs, stages)), PipelineOptions{});
    FAIL() << "expected an error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("every parameter is frozen"));
  }
  fs::remove_all(runs);
}

}  // namespace
}  // namespace rtseg
