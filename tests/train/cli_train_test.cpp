// rtseg train / eval / predict from the command line, as users run them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <sys/wait.h>

#include <torch/torch.h>

#include "rtseg/sdk/image_io.h"
#include "test_support.h"
#include "train/train_test_support.h"
#include "train/two_ranks.h"

namespace rtseg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int code;
  std::string output;
};

Result run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  const int status = pclose(pipe.release());
  return {WEXITSTATUS(status), output};
}

Result run(const std::string& arguments) {
  return run_command(std::string(RTSEG_BINARY_DIR) + "/bin/rtseg " + arguments + " 2>&1");
}

TEST(CliTrain, TrainEvalAndPredictFromTheCommandLine) {
  const fs::path work = fs::temp_directory_path() / ("rtseg_cli_train_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "tiny.toml") << testing::tiny_recipe(work / "runs", "", /*masks=*/true);

  // The seed's flags become recipe values; --max_steps makes it a smoke run.
  const Result train = run("train --recipe " + (work / "tiny.toml").string() + " --batch 1 --accum 2 --epochs 1 --max_steps 2 --workers 1");
  ASSERT_EQ(train.code, 0) << train.output;
  const fs::path run_folder = work / "runs" / "train_test_64_1";
  EXPECT_THAT(train.output, HasSubstr(run_folder.string()));
  EXPECT_THAT(train.output, HasSubstr("mask mAP50-95"));
  EXPECT_THAT(train.output, HasSubstr("batch 1 x accum 2"));

  const Result eval = run("eval --run " + run_folder.string() + " --weights last");
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"));
  EXPECT_THAT(eval.output, HasSubstr("mask (segm)"));
  EXPECT_TRUE(fs::is_regular_file(run_folder / "metrics.json"));
  EXPECT_TRUE(fs::is_regular_file(run_folder / "results.json"));

  // One picture per image, at the image's size; an unreadable file is reported, not fatal.
  const fs::path images = work / "images";
  fs::create_directories(images);
  sdk::write_image(images / "a.png", torch::full({50, 70, 3}, 120, torch::kUInt8));
  sdk::write_image(images / "b.jpg", torch::full({90, 40, 3}, 30, torch::kUInt8));
  std::ofstream(images / "broken.png") << "not a png";
  const Result predict = run("predict --run " + run_folder.string() + " --source " + images.string() + " --out " +
                             (work / "pictures").string() + " --conf 0.0");
  EXPECT_EQ(predict.code, 0) << predict.output;
  EXPECT_THAT(predict.output, HasSubstr("skipped 1 unreadable image"));
  const auto a = sdk::decode_image(work / "pictures" / "a.png");
  EXPECT_EQ(a.pixels.size(0), 50);
  EXPECT_EQ(a.pixels.size(1), 70);
  const auto b = sdk::decode_image(work / "pictures" / "b.jpg");
  EXPECT_EQ(b.pixels.size(0), 90);
  EXPECT_EQ(b.pixels.size(1), 40);
  EXPECT_TRUE(fs::is_regular_file(work / "pictures" / "predictions.json"));

  const Result missing = run("eval --run " + (work / "nowhere").string());
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.output, HasSubstr("not a run folder"));
  fs::remove_all(work);
}

// A job manager's SIGTERM to the launcher reaches every rank once: they agree to stop at the same
// step, rank 0 saves the state, and the launcher ends with the interrupted run's code (143).
TEST(CliTrain, NprocPassesSignalsOnToTheRanks) {
  const fs::path work = fs::temp_directory_path() / ("rtseg_cli_nproc_signal_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "tiny.toml") << testing::tiny_recipe(work / "runs");
  const std::string log = (work / "log.txt").string();
  const std::string script =
      std::string(RTSEG_BINARY_DIR) + "/bin/rtseg train --recipe " + (work / "tiny.toml").string() +
      " --nproc 2 --batch 1 --epochs 200 --no_tensorboard > " + log + " 2>&1 & launcher=$!; "
      "for i in $(seq 600); do grep -q \"epoch 1:\" " + log + " && break; sleep 0.1; done; "
      "kill -TERM $launcher; wait $launcher; echo \"launcher exit $?\"\n";
  std::ofstream(work / "stop.sh") << script;
  const Result stopped = run_command("bash " + (work / "stop.sh").string() + " 2>&1");
  const std::string output = testing::read_text(log);
  EXPECT_THAT(stopped.output, HasSubstr("launcher exit 143")) << output;
  EXPECT_THAT(output, HasSubstr("stopped by signal 15"));
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(work / "runs")) folders.push_back(entry.path());
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_TRUE(fs::is_regular_file(folders[0] / "state.safetensors"));
  fs::remove_all(work);
}

// PyTorch's own launcher: `torchrun --no-python ... rtseg train` (its agent serves the store the
// ranks meet at), and a failing rank's error in torchrun's summary. Skipped where PyTorch's
// torchrun is not installed (Debian: python3-torch).
TEST(CliTrain, TorchrunLaunchesRanksAndReportsTheirErrors) {
  if (std::system("command -v torchrun > /dev/null 2>&1") != 0) GTEST_SKIP() << "no torchrun on PATH (python3-torch)";
  const fs::path work = fs::temp_directory_path() / ("rtseg_cli_torchrun_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "tiny.toml") << testing::tiny_recipe(work / "runs");
  // -r 1 -t 1: Debian's torchrun 1.13 cannot parse its default "0" on Python 3.11.
  const std::string torchrun = "torchrun -r 1 -t 1 --log_dir " + (work / "logs").string() +
                               " --no_python --nproc_per_node 2 --master_port " +
                               std::to_string(testing::free_port()) + " " + RTSEG_BINARY_DIR + "/bin/rtseg train --recipe " +
                               (work / "tiny.toml").string() + " --batch 1 --epochs 1 --max_steps 2 --threads 1";
  Result launched = run_command(torchrun + " 2>&1");
  ASSERT_EQ(launched.code, 0) << launched.output;
  EXPECT_THAT(launched.output, HasSubstr("rank 0 of 2"));
  EXPECT_THAT(launched.output, HasSubstr("torchrun's store, timeout 30 min)"));
  // The summary once, from rank 0 (torchrun prefixes each rank's output with [default<rank>]:).
  EXPECT_THAT(launched.output, HasSubstr("[default0]:stage 'train'"));
  EXPECT_THAT(launched.output, ::testing::Not(HasSubstr("[default1]:stage 'train'")));
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(work / "runs")) folders.push_back(entry.path());
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_TRUE(fs::is_regular_file(folders[0] / "weights" / "last.safetensors"));

  const Result failed = run_command(torchrun + " --dist_backend nccl 2>&1");
  EXPECT_NE(failed.code, 0);
  // The summary's root cause is rtseg's message (TORCHELASTIC_ERROR_FILE), not "<N/A>".
  EXPECT_THAT(failed.output, HasSubstr("traceback : error: train.dist_backend = \"nccl\""));
  fs::remove_all(work);
}

}  // namespace
}  // namespace rtseg

namespace rtseg {
namespace {

// rtseg train --nproc 2: two local ranks (c10d Gloo over loopback), one run folder written by
// rank 0, the communication time recorded; --nproc inside a launched rank is refused.
TEST(CliTrain, NprocStartsLocalRanksThatShareOneRun) {
  const fs::path work = fs::temp_directory_path() / ("rtseg_cli_nproc_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "tiny.toml") << testing::tiny_recipe(work / "runs");
  const Result train = run("train --recipe " + (work / "tiny.toml").string() +
                           " --nproc 2 --batch 1 --epochs 1 --max_steps 2 --set train.dist_timeout=5");
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("started 2 ranks on this machine"));
  EXPECT_THAT(train.output, HasSubstr("timeout 5 min)"));
  // The two ranks share the cores rather than each taking all of them.
  const int share = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  EXPECT_THAT(train.output, HasSubstr("cpu: " + std::to_string(share) + " LibTorch threads"));
  EXPECT_THAT(train.output, HasSubstr("rank 0 of 2"));
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(work / "runs")) folders.push_back(entry.path());
  ASSERT_EQ(folders.size(), 1u);
  std::ifstream metrics(folders[0] / "metrics.jsonl");
  const std::string text((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("time/communication_ms_per_step"));

  ::setenv("WORLD_SIZE", "2", 1);
  const Result refused = run("train --recipe " + (work / "tiny.toml").string() + " --nproc 2");
  ::unsetenv("WORLD_SIZE");
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.output, HasSubstr("--nproc with WORLD_SIZE already set"));

  const Result no_timeout = run("train --recipe " + (work / "tiny.toml").string() + " --set train.dist_timeout=0");
  EXPECT_NE(no_timeout.code, 0);
  EXPECT_THAT(no_timeout.output, HasSubstr("train.dist_timeout: must be positive (minutes)."));
  fs::remove_all(work);
}

}  // namespace
}  // namespace rtseg
