// Fine-tuning as users run it: a run started from another run's weights on other classes, the
// warning for a ViT trained from scratch, and class names that stay with the model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include "rtseg/framework/paths.h"
#include "rtseg/framework/rfdetr_args.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/weights.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"
#include "train/train_test_support.h"

namespace rtseg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using framework::train::PipelineOptions;
using framework::train::run_pipeline;
using testing::read_text;

struct Result {
  int code;
  std::string output;
};

Result run(const std::string& arguments) {
  const std::string command = std::string(RTSEG_BINARY_DIR) + "/bin/rtseg " + arguments + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  const int status = pclose(pipe.release());
  return {WEXITSTATUS(status), output};
}

// What the runtime's logger says while `body` runs.
template <typename Body>
std::string logged(framework::Runtime& runtime, Body&& body) {
  std::ostringstream text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text);
  auto& sinks = runtime.logger()->sinks();
  sinks.push_back(sink);
  body();
  sinks.pop_back();
  return text.str();
}

TEST(FineTune, StartsFromAnotherRunTrainedOnOtherClasses) {
  testing::TempDir runs;
  auto runtime = testing::make_test_runtime();
  framework::LoadedRecipe pretrain = testing::loaded(testing::tiny_recipe(runs.path()));
  framework::apply_overrides(pretrain.document, {{"train.epochs", "1", ""}, {"train.max_steps", "2", ""}});
  std::vector<framework::train::StageOutcome> first;
  const std::string scratch = logged(*runtime, [&] { first = run_pipeline(*runtime, pretrain, PipelineOptions{}); });
  EXPECT_THAT(scratch, HasSubstr("the dinov2 backbone starts from random weights"));
  EXPECT_THAT(scratch, HasSubstr("--weights"));

  // Two shapes instead of five: the class heads are tiled from 6 rows to 3.
  framework::LoadedRecipe tune = testing::loaded(testing::tiny_recipe(runs.path()));
  framework::apply_overrides(tune.document, {{"data.shapes", "[\"star\", \"ring\"]", ""},
                                             {"model.weights", first.at(0).run.string(), ""},
                                             {"train.epochs", "1", ""},
                                             {"train.max_steps", "2", ""}});
  std::vector<framework::train::StageOutcome> second;
  const std::string tuned = logged(*runtime, [&] { second = run_pipeline(*runtime, tune, PipelineOptions{}); });
  EXPECT_THAT(tuned, HasSubstr("initialised from " + framework::display_path(first[0].outcome.best_weights) + ": "));
  EXPECT_THAT(tuned, HasSubstr("class heads tiled, file [6, 32] -> model [3, 32]"));
  EXPECT_THAT(tuned, HasSubstr("0 left fresh; 0 ignored"));
  EXPECT_THAT(tuned, Not(HasSubstr("random weights")));

  // The run records where it started and its classes; so do its weights.
  const std::string recipe = read_text(second.at(0).run / "recipe.toml");
  EXPECT_THAT(recipe, HasSubstr("weights = \"" + first[0].run.string() + "\""));
  EXPECT_THAT(recipe, HasSubstr("class_names = [ \"star\", \"ring\" ]"));
  const auto best = sdk::SafetensorsFile::open(second[0].outcome.best_weights);
  EXPECT_EQ(best.get("class_embed.bias").size(0), 3);
  const auto classes = framework::classes_from_metadata(best);
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_EQ(classes[1].name, "ring");
  EXPECT_EQ(classes[1].id, 2);
  EXPECT_EQ(best.metadata().at("size"), "test");
}

// The seed's two-stage flow from an RF-DETR detector: stage 1 starts from its weights, stage 2
// from stage 1 (as before), and nothing trains from random weights.
TEST(FineTune, TwoStageFlowFromAnRfdetrDetector) {
  const fs::path fixture = fs::path(RTSEG_RFDETR_FIXTURES) / "tiny_det";
  if (!fs::is_directory(fixture)) GTEST_SKIP() << fixture.string() << " not found; not checked";
  testing::TempDir runs;
  auto runtime = testing::make_test_runtime();
  std::ifstream config(fixture / "config.json");
  const std::string stages = R"(
[data]
type = "synthetic_shapes"
train_images = 4
valid_images = 2
min_size = 128
max_size = 128

[[stage]]
name = "detector"

[[stage]]
name = "segmentation"
init_from = "detector"
freeze = ["backbone", "decoder"]
[stage.model.seg_head]
type = "rfdetr_mask"
)";
  framework::LoadedRecipe recipe =
      testing::loaded(framework::recipe_from_rfdetr_args(nlohmann::json::parse(config)) + stages);
  std::vector<framework::Override> settings = {{"model.weights", (fixture / "weights.safetensors").string(), ""},
                                                {"train.output_dir", runs.path().string(), ""}};
  for (const char* setting : {"train.batch=2", "train.accum=1", "train.epochs=1", "train.max_steps=1",
                              "train.multi_scale=false", "train.workers=0", "train.threads=1",
                              "train.device=\"cpu\"", "train.tensorboard=false"}) {
    settings.push_back(framework::parse_override(setting));
  }
  framework::apply_overrides(recipe.document, settings);
  std::vector<framework::train::StageOutcome> done;
  const std::string log = logged(*runtime, [&] { done = run_pipeline(*runtime, recipe, PipelineOptions{}); });
  ASSERT_EQ(done.size(), 2u);
  EXPECT_THAT(log, HasSubstr("initialised from " + framework::display_path(fixture / "weights.safetensors") +
                             ": 321 tensors loaded, 28 of them resized (class heads tiled, file [4, 64] -> model "
                             "[6, 64]); 0 left fresh; 0 ignored"));
  EXPECT_THAT(log, HasSubstr("stage 'segmentation' starts from " + done[0].outcome.best_weights.string() +
                             ", not model.weights"));
  EXPECT_THAT(log, HasSubstr("initialised 321 tensors from " + done[0].outcome.best_weights.string() +
                             " (23 new tensors start fresh)"));
  EXPECT_THAT(log, Not(HasSubstr("random weights")));
}

TEST(FineTune, WeightsFlagsThatCannotWorkAreUsageErrors) {
  testing::TempDir work;
  const fs::path recipe = work.write("tiny.toml", testing::tiny_recipe(work / "runs"));
  const fs::path file = work / "w.safetensors";
  sdk::save_safetensors(file, {{"backbone.0.encoder.encoder.embeddings.cls_token", torch::zeros({1, 1, 16})}});

  const Result ema = run("train --recipe " + recipe.string() + " --weights " + file.string() + " --weights_ema");
  EXPECT_EQ(ema.code, 2) << ema.output;
  EXPECT_THAT(ema.output, HasSubstr("is a .safetensors file, which holds one set of weights; drop --weights_ema"));
  const Result both = run("train --recipe " + recipe.string() + " --weights " + file.string() + " --stage1_run " +
                          (work / "runs").string());
  EXPECT_EQ(both.code, 2) << both.output;
  EXPECT_THAT(both.output, HasSubstr("give one of them"));
  const Result mismatch = run("train --recipe " + recipe.string() + " --weights " + file.string() + " --max_steps 1");
  EXPECT_EQ(mismatch.code, 2) << mismatch.output;
  EXPECT_THAT(mismatch.output, HasSubstr(": 1 tensor has another shape than in this recipe's model"));
  EXPECT_THAT(mismatch.output, HasSubstr("cls_token: file [1, 1, 16] vs model [1, 1, 32]"));
}

// The issue's acceptance: an RF-DETR checkpoint to a recipe, then trained on a 5-class dataset,
// with nothing but rtseg (no Python).
TEST(FineTune, FromAnRfdetrCheckpointOnAFiveClassDataset) {
  const fs::path checkpoint = fs::path(RTSEG_RFDETR_FIXTURES) / "checkpoints" / "pretrained.pth";
  if (!fs::is_regular_file(checkpoint)) GTEST_SKIP() << checkpoint.string() << " not found; not checked";
  testing::TempDir work;
  const Result recipe = run("recipe from-rfdetr " + checkpoint.string() + " -o " + (work / "r.toml").string());
  ASSERT_EQ(recipe.code, 0) << recipe.output;
  const Result synth = run("data synth --out " + (work / "five").string() + " --images 8 --valid 4");
  ASSERT_EQ(synth.code, 0) << synth.output;
  const Result train = run("train --recipe " + (work / "r.toml").string() + " --weights " + checkpoint.string() +
                           " --data " + (work / "five").string() + " --max_steps 1 --output_dir " +
                           (work / "runs").string());
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("model.num_classes = 5 from the dataset"));
  EXPECT_THAT(train.output, HasSubstr(": 344 tensors loaded, 28 of them resized (class heads tiled, file [91, 64] -> "
                                      "model [6, 64]); 0 left fresh; 0 ignored"));
  EXPECT_TRUE(fs::is_regular_file(work / "runs" / "train_custom_128_1" / "weights" / "best.safetensors"));
}

// Train on a dataset on disk, move the dataset away: predict and eval still name the classes.
TEST(FineTune, ClassNamesStayWithTheModelWhenTheDataIsGone) {
  testing::TempDir work;
  const Result synth = run("data synth --out " + (work / "data").string() + " --images 8 --valid 4 --shapes star,ring");
  ASSERT_EQ(synth.code, 0) << synth.output;
  std::string text = testing::tiny_recipe(work / "runs", "", /*masks=*/true);
  const std::size_t data = text.find("[data]");
  text.replace(data, text.find("[model]") - data, "[data]\ntype = \"coco\"\npath = \"unused\"\n\n");
  const fs::path recipe = work.write("tiny.toml", text);
  const Result train = run("train --recipe " + recipe.string() + " --data " + (work / "data").string() +
                           " --epochs 1 --max_steps 1");
  ASSERT_EQ(train.code, 0) << train.output;
  const fs::path folder = work / "runs" / "train_test_64_1";
  fs::rename(work / "data", work / "moved");

  const Result predict = run("predict --run " + folder.string() + " --source " + (work / "moved" / "valid").string() +
                             " --out " + (work / "pictures").string() + " --conf 0");
  ASSERT_EQ(predict.code, 0) << predict.output;
  EXPECT_THAT(predict.output, Not(HasSubstr("class names unavailable")));
  std::ifstream in(work / "pictures" / "predictions.json");
  const nlohmann::json results = nlohmann::json::parse(in);
  ASSERT_FALSE(results.empty());
  for (const auto& entry : results) {
    const std::string name = entry["category_name"];
    EXPECT_TRUE(name == "star" || name == "ring") << name;
    EXPECT_EQ(entry["category_id"].get<int>(), name == "star" ? 1 : 2);
  }
  const Result eval = run("eval --run " + folder.string() + " --data " + (work / "moved").string());
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("ring"));
  EXPECT_THAT(eval.output, Not(HasSubstr("are not the dataset's")));

  // A run from before names travelled (no names in its recipe or weights): numbers, as before.
  std::string old_recipe = read_text(folder / "recipe.toml");
  const std::size_t names = old_recipe.find("class_names = ");
  old_recipe.erase(names, old_recipe.find('\n', names) - names);
  std::ofstream(folder / "recipe.toml") << old_recipe;
  const auto best = sdk::SafetensorsFile::open(folder / "weights" / "best.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : best.names()) tensors.emplace_back(name, best.get(name).clone());
  sdk::save_safetensors(folder / "weights" / "best.safetensors", tensors);
  const Result old = run("predict --run " + folder.string() + " --source " + (work / "moved" / "valid").string() +
                         " --out " + (work / "old").string() + " --conf 0");
  ASSERT_EQ(old.code, 0) << old.output;
  EXPECT_THAT(old.output, HasSubstr("class names unavailable"));
}

}  // namespace
}  // namespace rtseg
