// A killed run resumes exactly. For each of the three flows of recipes/pipelines (stage 1, stage 2
// on the frozen stage-1 detector, single stage) with tiny settings on the synthetic dataset, a real
// `rtseg train` is killed (SIGKILL) twice: while it writes a file (a deterministic test-only hook,
// RTSEG_TEST_KILL_IN_WRITE) and from outside just after a later checkpoint. Each resume continues
// from the last complete checkpoint, removes what the killed write left, and the run ends with the
// weights of an uninterrupted run, bit for bit (one thread), with every epoch's rows once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/tiny_flows.h"

namespace rtseg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::read_text;

using testing::pipeline_recipe;
using testing::start_rtseg;
using testing::tiny_settings;
using testing::wait_for;

ino_t inode_of(const fs::path& file) {
  struct stat info {};
  return ::stat(file.c_str(), &info) == 0 ? info.st_ino : 0;
}

// Waits until `file` is replaced (a new inode: AtomicFile renames a new file over it), then sends
// the process `signal_number`. Returns false when the process ended first.
bool kill_after_next_write(pid_t pid, const fs::path& file, int signal_number = SIGKILL) {
  const ino_t before = inode_of(file);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;
    if (inode_of(file) != before && inode_of(file) != 0) return ::kill(pid, signal_number) == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::vector<fs::path> temporaries_in(const fs::path& folder) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(entry.path());
  }
  return found;
}

// results.csv without its time and memory columns (which differ between processes).
std::string comparable_results(const fs::path& run) {
  std::istringstream lines(read_text(run / "results.csv"));
  std::string kept;
  std::vector<bool> keep;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    std::size_t column = 0;
    for (std::string cell; std::getline(cells, cell, ','); ++column) {
      if (keep.size() <= column) keep.push_back(cell != "time" && cell.rfind("memory/", 0) != 0);
      if (keep[column]) kept += cell + ",";
    }
    kept += "\n";
  }
  return kept;
}

// The epochs of metrics.jsonl's epoch records, in order.
std::vector<std::int64_t> epoch_records(const fs::path& run) {
  std::vector<std::int64_t> epochs;
  std::istringstream lines(read_text(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record["kind"] == "epoch") epochs.push_back(record["epoch"].get<std::int64_t>());
  }
  return epochs;
}

std::string bytes_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class KillResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new fs::path(fs::temp_directory_path() / ("rtseg_kill_resume_" + std::to_string(::getpid())));
    fs::remove_all(*work_);
    fs::create_directories(*work_);
    const auto synth = testing::run(testing::rtseg_binary() + " data synth --out " + (*work_ / "data").string() +
                                    " --images 12 --valid 4 --format png");
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*work_);
    delete work_;
  }

  // Trains `flow` uninterrupted and returns its run folder.
  static fs::path train_whole(const std::string& flow_arguments) {
    const fs::path runs = *work_ / ("reference_" + std::to_string(++trial_));
    const fs::path log = runs.string() + ".log";
    const pid_t pid = start_rtseg(flow_arguments + " " + tiny_settings(*work_ / "data", runs), log);
    EXPECT_EQ(wait_for(pid), 0) << read_text(log);
    return only_run(runs);
  }

  // The one run folder in `runs` (each training below gets its own `runs`).
  static fs::path only_run(const fs::path& runs) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(runs)) found.push_back(entry.path());
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? fs::path() : found.front();
  }

  // The flow killed in the write of `killed_write` ("<file name>:<n>"), resumed and killed again
  // from outside after its next checkpoint, resumed to the end; compared with `reference`.
  void expect_kills_change_nothing(const std::string& flow_arguments, const std::string& killed_write,
                                   const fs::path& reference) {
    const fs::path runs = *work_ / ("killed_" + std::to_string(++trial_));
    const fs::path log = runs.string() + ".log";
    const pid_t first = start_rtseg(flow_arguments + " " + tiny_settings(*work_ / "data", runs), log,
                              "RTSEG_TEST_KILL_IN_WRITE=" + killed_write);
    ASSERT_EQ(wait_for(first), 128 + SIGKILL) << read_text(log);
    const fs::path run = only_run(runs);
    const std::string written = killed_write.substr(0, killed_write.find(':'));
    const fs::path folder = written.find(".safetensors") != std::string::npos && written != "state.safetensors"
                                ? run / "weights"
                                : run;
    ASSERT_EQ(temporaries_in(folder).size(), 1u) << "the killed write left its temporary";

    const fs::path resumed_log = runs.string() + ".resumed.log";
    const pid_t second = start_rtseg("train --resume " + run.string(), resumed_log);
    ASSERT_TRUE(kill_after_next_write(second, run / "state.safetensors")) << read_text(resumed_log);
    EXPECT_EQ(wait_for(second), 128 + SIGKILL);
    const std::string resumed = read_text(resumed_log);
    EXPECT_THAT(resumed, HasSubstr("resuming " + run.string() + " from its checkpoint at "));
    EXPECT_THAT(resumed, HasSubstr("removed 1 unfinished temporary file(s) of interrupted writes"));
    EXPECT_TRUE(temporaries_in(folder).empty());

    const auto finished = testing::run(testing::rtseg_binary() + " train --resume " + run.string());
    ASSERT_EQ(finished.exit_code, 0) << finished.err;
    EXPECT_EQ(bytes_of(run / "weights" / "last.safetensors"), bytes_of(reference / "weights" / "last.safetensors"))
        << "the resumed run ended with other weights than the uninterrupted one";
    EXPECT_EQ(bytes_of(run / "weights" / "best.safetensors"), bytes_of(reference / "weights" / "best.safetensors"));
    EXPECT_EQ(epoch_records(run), (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(comparable_results(run), comparable_results(reference));
    EXPECT_TRUE(temporaries_in(run).empty() && temporaries_in(run / "weights").empty());
  }

  static fs::path* work_;
  static int trial_;
};

fs::path* KillResume::work_ = nullptr;
int KillResume::trial_ = 0;

// Stage 1 with accum 2 and EMA, killed while writing its second (mid-epoch) checkpoint.
TEST_F(KillResume, DetectorStage1) {
  const std::string flow =
      "train --recipe " + pipeline_recipe("detector_stage1.toml") + " --batch 1 --accum 2 --set train.ema=true";
  expect_kills_change_nothing(flow, "state.safetensors:2", train_whole(flow));
}

// Stage 2 (frozen detector, multi-scale, accum 2) from a stage-1 run, killed while writing
// results.csv at the end of epoch 1: the resume must freeze the detector again.
TEST_F(KillResume, SegmentationStage2OnTheFrozenDetector) {
  const fs::path stage1 =
      train_whole("train --recipe " + pipeline_recipe("detector_stage1.toml") + " --batch 1 --accum 2");
  const std::string flow = "train --recipe " + pipeline_recipe("seg_stage2.toml") + " --stage1_run " + stage1.string() +
                           " --batch 1 --accum 2";
  expect_kills_change_nothing(flow, "results.csv:1", train_whole(flow));
}

// Single stage with --batch auto (the planner's batch is in the run's recipe.toml) and EMA, killed
// while writing weights/last.safetensors at the end of epoch 1.
TEST_F(KillResume, SingleStageWithBatchAuto) {
  const std::string flow =
      "train --recipe " + pipeline_recipe("seg_single_stage.toml") + " --batch auto --accum 2 --set train.ema=true";
  expect_kills_change_nothing(flow, "last.safetensors:1", train_whole(flow));
}

// SIGTERM (a job scheduler's) saves the state at the next step and exits with 143; Ctrl-C twice
// exits at once with 130, the last complete checkpoint intact; the run then resumes.
TEST_F(KillResume, SignalsStopWithTheirCodesAndKeepTheCheckpoint) {
  const fs::path runs = *work_ / "signals";
  const fs::path log = runs.string() + ".log";
  const std::string flow = "train --recipe " + pipeline_recipe("detector_stage1.toml") + " --batch 1 " +
                           tiny_settings(*work_ / "data", runs) + " --set train.epochs=1000";
  const pid_t first = start_rtseg(flow, log);
  const auto found_run = [&] {
    for (int i = 0; i < 6000 && (!fs::exists(runs) || fs::is_empty(runs)) && ::waitpid(first, nullptr, WNOHANG) == 0;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fs::exists(runs) ? only_run(runs) : fs::path();
  };
  const fs::path run = found_run();
  ASSERT_FALSE(run.empty()) << read_text(log);
  ASSERT_TRUE(kill_after_next_write(first, run / "state.safetensors", SIGTERM)) << read_text(log);
  EXPECT_EQ(wait_for(first), 143) << read_text(log);
  EXPECT_THAT(read_text(log), HasSubstr("stopped by signal 15: state saved at epoch"));

  const fs::path resumed_log = runs.string() + ".resumed.log";
  const pid_t second = start_rtseg("train --resume " + run.string(), resumed_log);
  ASSERT_TRUE(kill_after_next_write(second, run / "state.safetensors", SIGINT)) << read_text(resumed_log);
  ::kill(second, SIGINT);  // the second Ctrl-C
  EXPECT_EQ(wait_for(second), 130);
  const auto state = sdk::SafetensorsFile::open(run / "state.safetensors");  // whole, not half-written
  EXPECT_THAT(state.metadata().at("rtseg.progress"), HasSubstr("\"step\""));
  const auto again = testing::run(testing::rtseg_binary() + " train --resume " + run.string() + " --max_steps 1");
  EXPECT_THAT(again.out + again.err, HasSubstr("resuming " + run.string() + " from its checkpoint at"));
}

}  // namespace
}  // namespace rtseg
