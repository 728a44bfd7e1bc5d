// The `rtseg` command as users run it: output, files and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rtseg/sdk/abi.h"

#include "test_support.h"

namespace rtseg {
namespace {

using rtseg::testing::CommandResult;
using rtseg::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kRtseg = RTSEG_BIN;
const std::filesystem::path kSource = RTSEG_SOURCE_DIR;
const std::filesystem::path kFixtures = RTSEG_FIXTURE_DIR;

CommandResult rtseg(const std::string& arguments) {
  return rtseg::testing::run("env -u RTSEG_PLUGIN_PATH " + kRtseg + " " + arguments);
}

TEST(Cli, PluginsListsTheFiveKindsAndWhereEachComponentCameFrom) {
  const CommandResult result = rtseg("plugins");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* kind : {"backbone:", "decoder:", "seg_head:", "dataset:", "scheduler:"}) {
    EXPECT_THAT(result.out, HasSubstr(std::string("\n") + kind + "\n"));
  }
  EXPECT_THAT(result.out, HasSubstr("librtseg_schedulers.so"));
  EXPECT_THAT(result.out, HasSubstr("  cosine  (schedulers 1.0.0"));
  EXPECT_THAT(result.out, HasSubstr("warmup_epochs"));
}

TEST(Cli, PluginsJsonHasComponentsAndOptions) {
  const CommandResult result = rtseg("plugins --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  std::vector<std::string> names;
  for (const auto& component : json["components"]["scheduler"]) names.push_back(component["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"constant", "cosine", "step"}));
  const auto& step = json["components"]["scheduler"][2];
  EXPECT_THAT(step["library"].get<std::string>(), HasSubstr("librtseg_schedulers.so"));
  bool has_gamma = false;
  for (const auto& option : step["options"]) {
    if (option["key"] == "gamma") {
      has_gamma = true;
      EXPECT_EQ(option["default"], "0.1");
      EXPECT_EQ(option["type"], "float");
    }
  }
  EXPECT_TRUE(has_gamma);
}

TEST(Cli, RecipeCheckReportsAMisspeltKeyInARecipeExtendingNano) {
  TempDir dir;
  const auto recipe = dir.write("mine.toml", "extends = \"" + (kSource / "recipes/variants/nano.toml").string() +
                                                 "\"\n\n[train]\nbacth = 2\n");
  const CommandResult result = rtseg("recipe check " + recipe.string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("mine.toml:4:"));
  EXPECT_THAT(result.err, HasSubstr("train.bacth"));
  EXPECT_THAT(result.err, HasSubstr("Did you mean 'batch'?"));
}

TEST(Cli, RecipeCheckOfAGoodRecipeWithPluginFolderFromTheRecipe) {
  TempDir dir;
  // The second backbone plugin arrives in a plugin folder after the host was built.
  std::filesystem::create_directories(dir / "plugins");
  std::filesystem::copy_file(kFixtures / "extra_backbone/librtseg_extra_backbone.so",
                             dir / "plugins/librtseg_extra_backbone.so");
  const auto recipe = dir.write("recipe.toml",
                                "[plugins]\npaths = [\"plugins\"]\n"
                                "[model]\nresolution = 32\nhidden_dim = 8\nnum_queries = 3\n"
                                "num_classes = 2\n[model.backbone]\ntype = \"extra_cnn\"\n"
                                "channels = 5\n[model.decoder]\ntype = \"tiny_decoder\"\n");
  const CommandResult result = rtseg("--plugin-dir " + (kFixtures / "test_components").string() +
                                     " recipe check --build " + recipe.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("[train] backbone extra: [1, 5, 8, 8]"));
  EXPECT_THAT(result.out, HasSubstr("decoder layer 0: logits [1, 3, 3]"));
  EXPECT_THAT(result.out, HasSubstr("ok: "));
}

TEST(Cli, RecipeCheckCanLetMissingPluginsByWithAWarning) {
  TempDir dir;
  const auto recipe = dir.write("r.toml",
                                "[model.backbone]\ntype = \"not_built_here\"\nwhatever = 1\n"
                                "[model.decoder]\ntype = \"tiny_decoder\"\n");
  const std::string plugins = "--plugin-dir " + (kFixtures / "test_components").string();
  const CommandResult strict = rtseg(plugins + " recipe check " + recipe.string());
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_THAT(strict.err, HasSubstr("r.toml:2:8: model.backbone.type: no backbone named 'not_built_here'"));
  const CommandResult lenient =
      rtseg(plugins + " recipe check --allow-missing-plugins " + recipe.string());
  EXPECT_EQ(lenient.exit_code, 0) << lenient.err;
  EXPECT_THAT(lenient.err, HasSubstr("warning: " ));
  EXPECT_THAT(lenient.err, HasSubstr("backbone 'not_built_here' is not loaded; its options were not checked"));
  // The components that are loaded are still checked strictly.
  const auto typo = dir.write("typo.toml",
                              "[model.backbone]\ntype = \"not_built_here\"\n"
                              "[model.decoder]\ntype = \"tiny_decoder\"\nlayers = 2\n");
  EXPECT_EQ(rtseg(plugins + " recipe check --allow-missing-plugins " + typo.string()).exit_code, 2);
}

TEST(Cli, RecipeCheckGoesOnAfterAFailingFile) {
  TempDir dir;
  const auto bad = dir.write("bad.toml", "[model]\nresolution = -1\n");
  const auto missing = dir / "missing.toml";
  const CommandResult result = rtseg("recipe check " + bad.string() + " " + missing.string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("bad.toml:2:14: model.resolution: must be a positive number"));
  EXPECT_THAT(result.err, HasSubstr("missing.toml' does not exist"));
}

TEST(Cli, RecipeShowPrintsOriginsOfEveryValue) {
  const CommandResult result =
      rtseg("recipe show " + (kSource / "recipes/pipelines/seg_stage2.toml").string() +
            " --set train.workers=0 --size small --stage segmentation");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("resolution = 512"));
  EXPECT_THAT(result.out, HasSubstr("variants/small.toml:9:14"));
  EXPECT_THAT(result.out, HasSubstr("workers = 0"));
  EXPECT_THAT(result.out, HasSubstr("# command line (--set train.workers=0)"));
  EXPECT_THAT(result.out, HasSubstr("batch = 1"));
  EXPECT_THAT(result.out, HasSubstr("seg_stage2.toml:"));
  EXPECT_THAT(result.out, Not(HasSubstr("[[stage]]")));
}

TEST(Cli, RecipeShowUnknownStage) {
  const CommandResult result =
      rtseg("recipe show " + (kSource / "recipes/pipelines/seg_stage2.toml").string() + " --stage nope");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no stage named 'nope' (stages: segmentation)"));
}

TEST(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(rtseg("").exit_code, 2);
  EXPECT_EQ(rtseg("recipe check").exit_code, 2);
  EXPECT_EQ(rtseg("no-such-command").exit_code, 2);
  const CommandResult bad_set = rtseg("recipe show " + (kSource / "recipes/variants/nano.toml").string() +
                                      " --set train.batch");
  EXPECT_EQ(bad_set.exit_code, 2);
  EXPECT_THAT(bad_set.err, HasSubstr("expected KEY=VALUE"));
  const CommandResult bad_level = rtseg("--log-level loud plugins");
  EXPECT_EQ(bad_level.exit_code, 2);
  EXPECT_THAT(bad_level.err, HasSubstr("unknown log level 'loud'"));
}

// Recipe values no run could use are refused by `recipe check` and `recipe show` before anything
// trains, naming the key, where it was set and what to use instead.
TEST(Cli, RecipeChecksRefuseWhatTrainingCouldNotUse) {
  const std::string nano = (kSource / "recipes/variants/nano.toml").string();
  struct Case {
    std::string arguments;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {"recipe show " + nano + " --set train.bacth=2", {"unknown key 'bacth'", "Did you mean 'batch'?"}},
      {"recipe check " + nano + " --set model.resolution=100",
       {"model.resolution = 100 cannot be taken by the backbone: sides must be multiples of 32", "use 96 or 128"}},
      {"recipe check " + nano + " --set train.epochs=9223372036854775807", {"train.epochs: must be at most 1000000"}},
      {"recipe check " + nano + " --set train.batch=2000000", {"train.batch: must be at most 1048576"}},
      {"recipe check " + nano + " --set 'train.checkpoint_every=5 parsecs'",
       {"train.checkpoint_every", "unknown unit 'parsecs'", "\"500 steps\""}},
  };
  for (const Case& c : cases) {
    const CommandResult result = rtseg(c.arguments);
    EXPECT_EQ(result.exit_code, 2) << c.arguments << "\n" << result.err;
    for (const std::string& text : c.says) EXPECT_THAT(result.err, HasSubstr(text)) << c.arguments;
  }
  EXPECT_EQ(rtseg("recipe check " + nano + " --set model.resolution=416").exit_code, 0);
}

// rtseg plan on the quickstart's detector stage (CPU): measured lines, the table, and a
// recommendation that keeps the effective batch; a malformed budget names the flag.
TEST(Cli, PlanMeasuresFitsAndRecommendsABatch) {
  const std::string recipe = (kSource / "recipes/quickstart.toml").string();
  const CommandResult plan = rtseg("--log-level off plan --recipe " + recipe + " --stage detector --budget 8GiB --json");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto json = nlohmann::json::parse(plan.out);
  EXPECT_EQ(json["stage"], "detector");
  EXPECT_EQ(json["measured"].size(), 3u);  // batch 1 and 2 at the training size, batch 2 smaller
  EXPECT_GT(json["fit"]["per_image_gib"].get<double>(), 0);
  EXPECT_EQ(json["recommended"]["batch"].get<int>() * json["recommended"]["accum"].get<int>(),
            json["effective_batch"].get<int>());
  EXPECT_THAT(json["command"].get<std::string>(), HasSubstr("rtseg train --recipe"));

  const CommandResult bad = rtseg("plan --recipe " + recipe + " --budget lots");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--budget \"lots\": expected a size such as 4GiB"));
}

TEST(Cli, VersionPrintsAbiAndFingerprint) {
  const CommandResult result = rtseg("version");
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("SDK ABI " + std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor)));
  EXPECT_THAT(result.out, HasSubstr("build fingerprint: "));
  EXPECT_THAT(result.out, HasSubstr("libtorch-"));
}

TEST(Cli, RefusedPluginsAreListedWithTheirReason) {
  const CommandResult result = rtseg("--log-level off --plugin-dir " +
                                     (kFixtures / "bad_abi").string() + " plugins");
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("refused "));
  EXPECT_THAT(result.out, HasSubstr("built against rtseg SDK ABI 999.0"));
}

TEST(Cli, InspectReportsRfDetrsParameterCountsAsJson) {
  const CommandResult result = rtseg("inspect --recipe " + (kSource / "recipes/variants/nano.toml").string() +
                                     " --set model.resolution=128 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["params_total"], 30467298);  // RF-DETR-N: 30.47 M
  EXPECT_EQ(json["params_inference"], 26863662);
  EXPECT_EQ(json["resolution"], 128);
  EXPECT_GT(json["forward_gflops"].get<double>(), 1.0);
  EXPECT_EQ(json["components"][0]["prefix"], "backbone.0");
  EXPECT_THAT(json["outputs"][0].get<std::string>(), HasSubstr("backbone p4: [1, 256, 8, 8]"));
}

TEST(Cli, InspectLoadsConvertedWeightsStrictly) {
  const std::filesystem::path fixture = std::filesystem::path(RTSEG_RFDETR_FIXTURES) / "tiny_seg";
  if (!std::filesystem::exists(fixture)) GTEST_SKIP() << "RF-DETR fixtures not found at " << fixture;
  TempDir dir;
  const CommandResult recipe = rtseg("recipe from-rfdetr " + (fixture / "config.json").string() + " -o " +
                                     (dir / "recipe.toml").string());
  ASSERT_EQ(recipe.exit_code, 0) << recipe.err;
  const CommandResult ok = rtseg("inspect --recipe " + (dir / "recipe.toml").string() + " --weights " +
                                 (fixture / "weights.safetensors").string());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.err, HasSubstr("loaded 344 tensors"));
  // A detector's weights for the segmentation model: the mask head's tensors are missing.
  const CommandResult detector = rtseg("inspect --recipe " + (dir / "recipe.toml").string() + " --weights " +
                                       (fixture.parent_path() / "tiny_det/weights.safetensors").string());
  EXPECT_EQ(detector.exit_code, 1);
  EXPECT_THAT(detector.err, HasSubstr("segmentation_head.bias"));
  EXPECT_THAT(detector.err, HasSubstr("missing"));
}

TEST(Cli, RecipeFromAnRfdetrCheckpointBuildsAndLoadsItsWeights) {
  // The first step, with no Python: the recipe of RF-DETR's own .pth, checked and built.
  const std::filesystem::path checkpoints = std::filesystem::path(RTSEG_RFDETR_FIXTURES) / "checkpoints";
  if (!std::filesystem::exists(checkpoints)) GTEST_SKIP() << "RF-DETR fixtures not found at " << checkpoints;
  TempDir dir;
  const std::string recipe = (dir / "r.toml").string();
  const CommandResult made = rtseg("recipe from-rfdetr " + (checkpoints / "pretrained.pth").string() + " -o " + recipe);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, "wrote " + recipe + "\n");
  const CommandResult checked = rtseg("recipe check " + recipe);
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  // The checkpoint's model (model.safetensors holds it bit for bit) loads strictly into it.
  const CommandResult inspected =
      rtseg("inspect --recipe " + recipe + " --weights " + (checkpoints / "model.safetensors").string());
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_THAT(inspected.err, HasSubstr("loaded 344 tensors"));
  // A file that is not a checkpoint: exit 1, the file and the problem named.
  const std::string text = dir.write("notes.pth", "not a checkpoint").string();
  const CommandResult bad = rtseg("recipe from-rfdetr " + text);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr(text + ": not a PyTorch checkpoint"));
}

TEST(Cli, RecipeReferenceInTheDocsIsCurrent) {
  std::ifstream in(kSource / "docs/recipes.md");
  const std::string doc(std::istreambuf_iterator<char>(in), {});
  const std::string begin = "<!-- begin generated: rtseg recipe keys -->\n";
  const std::string end = "<!-- end generated: rtseg recipe keys -->";
  const std::size_t from = doc.find(begin);
  const std::size_t to = doc.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const CommandResult result = rtseg("recipe keys");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(doc.substr(from + begin.size(), to - from - begin.size()), result.out)
      << "docs/recipes.md is out of date: run scripts/update-docs.sh";
}

}  // namespace
}  // namespace rtseg
