#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/logging.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

using rtseg::testing::TempDir;
using ::testing::HasSubstr;

const char* kModel =
    "[model]\nresolution = 32\nnum_queries = 5\nnum_classes = 3\nhidden_dim = 16\n"
    "[model.backbone]\ntype = \"tiny_cnn\"\nchannels = 6\n"
    "[model.decoder]\ntype = \"tiny_decoder\"\n";

LoadedRecipe load(const TempDir& dir, const std::string& text, std::vector<Override> overrides = {}) {
  return load_recipe(RecipeRequest{dir.write("recipe.toml", text), "", std::nullopt, std::move(overrides)});
}

std::string stages_error(const TempDir& dir, const std::string& text) {
  try {
    expand_stages(load(dir, text));
  } catch (const sdk::ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

// A runtime with the test components and the real scheduler plugin.
struct RuntimeFixture : ::testing::Test {
  RuntimeFixture() : runtime(options()) {}
  static RuntimeOptions options() {
    RuntimeOptions o;
    o.load_default_plugins = false;
    o.plugin_paths = {std::filesystem::path(RTSEG_FIXTURE_DIR) / "test_components",
                      std::filesystem::path(RTSEG_BINARY_DIR) / "lib/rtseg/plugins"};
    o.logger = make_logger("test", "off");
    return o;
  }
  std::string check_error(const LoadedRecipe& recipe) {
    try {
      for (const auto& stage : expand_stages(recipe)) check_recipe(stage.document, runtime.registry());
    } catch (const sdk::Error& error) {
      return error.what();
    }
    return "(no error)";
  }
  TempDir dir;
  Runtime runtime;
};

TEST(Stages, RecipeWithoutStagesIsOneStageNamedTrain) {
  TempDir dir;
  const auto stages = expand_stages(load(dir, "[train]\nbatch = 2\n"));
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].name, "train");
  EXPECT_EQ(stages[0].document.root().at_path("train.batch").value<std::int64_t>(), 2);
}

TEST(Stages, EachStageGetsBaseThenItsSectionsThenTheCommandLine) {
  TempDir dir;
  const std::string text =
      "[train]\nbatch = 4\nepochs = 10\n"
      "[[stage]]\nname = \"detector\"\n[stage.train]\nbatch = 2\n"
      "[[stage]]\nname = \"segmentation\"\ninit_from = \"detector\"\nfreeze = [\"backbone\", "
      "\"decoder\"]\n[stage.model.seg_head]\ntype = \"tiny_mask\"\n[stage.train]\nepochs = 3\n";
  const auto stages = expand_stages(load(dir, text, {parse_override("train.epochs=7")}));
  ASSERT_EQ(stages.size(), 2u);
  const auto& first = stages[0].document.root();
  const auto& second = stages[1].document.root();
  EXPECT_EQ(first.at_path("train.batch").value<std::int64_t>(), 2);
  EXPECT_EQ(second.at_path("train.batch").value<std::int64_t>(), 4);
  EXPECT_EQ(first.at_path("train.epochs").value<std::int64_t>(), 7);   // command line beats stage
  EXPECT_EQ(second.at_path("train.epochs").value<std::int64_t>(), 7);
  EXPECT_FALSE(first.at_path("model.seg_head"));
  EXPECT_EQ(second.at_path("model.seg_head.type").value<std::string>(), "tiny_mask");
  EXPECT_FALSE(second.contains("stage"));
  EXPECT_TRUE(stages[1].init_from_stage);
  EXPECT_EQ(stages[1].freeze, (std::vector<std::string>{"backbone", "decoder"}));
  // A stage value keeps its own file position under its plain path.
  EXPECT_EQ(stages[0].document.origin("train.batch").line, 7);
}

TEST(Stages, InitFromMustNameAnEarlierStageOrAPath) {
  TempDir dir;
  const std::string message = stages_error(
      dir, "[[stage]]\nname = \"detector\"\n[[stage]]\nname = \"seg\"\ninit_from = \"detctor\"\n");
  EXPECT_THAT(message, HasSubstr("recipe.toml:5:"));
  EXPECT_THAT(message, HasSubstr("stage[1].init_from"));
  EXPECT_THAT(message, HasSubstr("not an earlier stage (earlier stages: detector)"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'detector'?"));

  EXPECT_THAT(stages_error(dir, "[[stage]]\nname = \"a\"\ninit_from = \"a\"\n"),
              HasSubstr("cannot start from itself"));
  const auto stages =
      expand_stages(load(dir, "[[stage]]\nname = \"seg\"\ninit_from = \"runs/detector_nano_384_1\"\n"));
  EXPECT_FALSE(stages[0].init_from_stage);
  EXPECT_EQ(stages[0].init_from, "runs/detector_nano_384_1");
}

TEST(Stages, NamesAreRequiredAndUnique) {
  TempDir dir;
  EXPECT_THAT(stages_error(dir, "[[stage]]\nname = \"a\"\n[[stage]]\nname = \"a\"\n"),
              HasSubstr("stage 'a' is defined twice"));
  EXPECT_THAT(stages_error(dir, "[[stage]]\ninit_from = \"x/y\"\n"),
              HasSubstr("stage[0].name: this key is required"));
}

TEST(Stages, UnknownStageKeyIsAnError) {
  TempDir dir;
  const std::string message = stages_error(dir, "[[stage]]\nname = \"a\"\nfreze = [\"backbone\"]\n");
  EXPECT_THAT(message, HasSubstr("recipe.toml:3:"));
  EXPECT_THAT(message, HasSubstr("unknown key 'freze'"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'freeze'?"));
}

TEST_F(RuntimeFixture, ChecksHostKeysAndEveryComponentThroughItsPlugin) {
  const auto recipe = load(dir, std::string(kModel) + "[train.scheduler]\ntype = \"cosine\"\n"
                                                      "warmup_epochs = 1.5\n");
  const auto stages = expand_stages(recipe);
  const CheckedRecipe checked = check_recipe(stages[0].document, runtime.registry());
  EXPECT_EQ(checked.backbone.type, "tiny_cnn");
  EXPECT_EQ(checked.backbone.path, "model.backbone");
  EXPECT_EQ(checked.model.resolution, 32);
  EXPECT_EQ(checked.train.batch, 4);
  ASSERT_TRUE(checked.scheduler);
  EXPECT_EQ(checked.scheduler->type, "cosine");
  EXPECT_FALSE(checked.seg_head);
  EXPECT_FALSE(checked.dataset);
}

TEST_F(RuntimeFixture, MisspeltHostKeyIsFoundEvenWhenAPluginIsMissing) {
  const std::string message = check_error(load(
      dir, "[model.backbone]\ntype = \"not_installed\"\n[model.decoder]\ntype = \"x\"\n"
           "[train]\nbacth = 2\n"));
  EXPECT_THAT(message, HasSubstr("recipe.toml:6:"));
  EXPECT_THAT(message, HasSubstr("unknown key 'bacth'. Did you mean 'batch'?"));
}

TEST_F(RuntimeFixture, UnknownComponentTypeListsRegisteredOnes) {
  const std::string message = check_error(
      load(dir, "[model.backbone]\ntype = \"tiny_cn\"\n[model.decoder]\ntype = \"tiny_decoder\"\n"));
  EXPECT_THAT(message, HasSubstr("recipe.toml:2:8: model.backbone.type"));
  EXPECT_THAT(message, HasSubstr("no backbone named 'tiny_cn'"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'tiny_cnn'?"));
}

TEST_F(RuntimeFixture, PluginOptionsAreCheckedStrictly) {
  const std::string message = check_error(load(
      dir, std::string(kModel) + "[train.scheduler]\ntype = \"step\"\ndrop_epoch = [10]\n"));
  EXPECT_THAT(message, HasSubstr("train.scheduler.drop_epoch"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'drop_epochs'?"));
  const std::string wrong_type = check_error(load(
      dir, "[model.backbone]\ntype = \"tiny_cnn\"\nchannels = \"six\"\n[model.decoder]\ntype = \"tiny_decoder\"\n"));
  EXPECT_THAT(wrong_type, HasSubstr("recipe.toml:3:12: model.backbone.channels: expected int"));
}

TEST_F(RuntimeFixture, BuildsAndProbesTheModelThroughFeatureSpecs) {
  const auto recipe = load(dir, std::string(kModel) + "[model.seg_head]\ntype = \"tiny_mask\"\n");
  const auto stages = expand_stages(recipe);
  const CheckedRecipe checked = check_recipe(stages[0].document, runtime.registry());
  const auto model = build_model(runtime.registry(), stages[0].document, checked, sdk::BuildContext{});
  const auto lines = probe_model(*model, checked.model.resolution);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "backbone p1: [1, 6, 8, 8]");
  EXPECT_EQ(lines[1], "decoder layer 0: logits [1, 5, 4], boxes [1, 5, 4]");
  EXPECT_EQ(lines[2], "masks: [1, 5, 8, 8]");
  EXPECT_THROW(probe_model(*model, 30), sdk::Error);  // not a multiple of the stride
}

}  // namespace
}  // namespace rtseg::framework

namespace rtseg::framework {
namespace {

// train.checkpoint_every: steps and/or a time, whichever comes first, or off.
TEST(CheckpointEvery, ReadsStepsTimesAndOff) {
  EXPECT_EQ(parse_checkpoint_every("500 steps"), (std::pair<std::int64_t, double>{500, 0.0}));
  EXPECT_EQ(parse_checkpoint_every("15 min"), (std::pair<std::int64_t, double>{0, 15.0}));
  EXPECT_EQ(parse_checkpoint_every("1 step, 2 h"), (std::pair<std::int64_t, double>{1, 120.0}));
  EXPECT_EQ(parse_checkpoint_every("90 s"), (std::pair<std::int64_t, double>{0, 1.5}));
  EXPECT_EQ(parse_checkpoint_every("off"), (std::pair<std::int64_t, double>{0, 0.0}));
  for (const char* bad : {"", "15", "0 min", "-1 steps", "1.5 steps", "3 days", "1 steps, 2 steps", "nan min"}) {
    EXPECT_THROW(parse_checkpoint_every(bad), sdk::ConfigError) << bad;
  }
}

}  // namespace
}  // namespace rtseg::framework
