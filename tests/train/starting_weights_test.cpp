// model.weights / rtseg train --weights: RF-DETR's fine-tuning start, checked bit for bit against
// the state dicts RF-DETR 1.4.1 itself produced (../shared/fixtures/rfdetr/checkpoints), from its
// .safetensors copy and from the .pth files themselves.
#include "rtseg/framework/train/starting_weights.h"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/rfdetr_args.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/train_test_support.h"

namespace rtseg::framework::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixtures = RTSEG_RFDETR_FIXTURES;
const fs::path kPretrained = kFixtures / "checkpoints" / "model.safetensors";  // 91 logits, 20 queries

class StartingWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(kFixtures / "checkpoints")) {
      GTEST_SKIP() << "RF-DETR fixtures not found at " << kFixtures.string()
                   << " (they live in ../shared/fixtures/rfdetr beside the checkout); fine-tuning start not checked";
    }
    logger_ = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
  }

  // The tiny_seg architecture (RF-DETR's own config.json) with other values set.
  std::shared_ptr<Model> tiny_seg(const std::vector<Override>& overrides, const std::string& fixture = "tiny_seg") {
    std::ifstream in(kFixtures / fixture / "config.json");
    LoadedRecipe recipe;
    recipe.document = RecipeDocument::parse_text(recipe_from_rfdetr_args(nlohmann::json::parse(in)), "config.json");
    apply_overrides(recipe.document, overrides);
    const auto stages = expand_stages(recipe);
    const CheckedRecipe checked = check_recipe(stages.at(0).document, runtime_->registry());
    return build_model(runtime_->registry(), stages[0].document, checked, sdk::BuildContext{});
  }

  // Every tensor of the model equals the file's, bit for bit, and the names are the same.
  static void expect_state_equals(torch::nn::Module& model, const fs::path& file) {
    const auto expected = sdk::SafetensorsFile::open(file);
    std::size_t compared = 0;
    for (const auto& item : model.named_parameters()) {
      ASSERT_TRUE(expected.contains(item.key())) << item.key();
      EXPECT_TRUE(torch::equal(item.value(), expected.get(item.key()))) << item.key();
      ++compared;
    }
    EXPECT_EQ(compared, expected.names().size());
  }

  std::string fine_tune(const std::string& fixture, std::int64_t classes, std::int64_t queries,
                        const fs::path& source = kPretrained, bool ema = false) {
    auto model = tiny_seg({{"model.num_classes", std::to_string(classes), ""},
                           {"model.num_queries", std::to_string(queries), ""}});
    load_starting_weights(*model, open_starting_weights(source, ema), *logger_);
    expect_state_equals(*model, kFixtures / "checkpoints" / (fixture + ".safetensors"));
    return log_.str();
  }

  std::unique_ptr<Runtime> runtime_ = testing::make_test_runtime();
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_;
};

// RF-DETR's K logits are num_classes + 1: a 3-class dataset gets finetune_4c's heads.
TEST_F(StartingWeightsTest, FourLogitsTwentyQueriesAsRfdetr) {
  const std::string log = fine_tune("finetune_4c_20q", 3, 20);
  EXPECT_THAT(log, HasSubstr("initialised from " + display_path(kPretrained) + ": 344 tensors loaded, 28 of them "
                             "resized (class heads tiled, file [91, 64] -> model [4, 64])"));
  EXPECT_THAT(log, HasSubstr("; 0 left fresh; 0 ignored"));
}

TEST_F(StartingWeightsTest, ThreeLogitsTenQueriesCutsTheQueryTables) {
  const std::string log = fine_tune("finetune_3c_10q", 2, 10);
  EXPECT_THAT(log, HasSubstr("30 of them resized"));
  EXPECT_THAT(log, HasSubstr("query tables cut to their first rows, file [260, 4] -> model [130, 4]"));
}

TEST_F(StartingWeightsTest, MoreClassesThanTheCheckpointRepeatItsRows) {
  const std::string log = fine_tune("finetune_120c_20q", 119, 20);
  EXPECT_THAT(log, HasSubstr("class heads tiled, file [91, 64] -> model [120, 64]"));
}

// RF-DETR's own files: the published kind (zip and pre-1.6 formats) and a training checkpoint,
// whose EMA copy --weights_ema takes.
TEST_F(StartingWeightsTest, RfdetrCheckpointsStartTheSameWay) {
  const fs::path checkpoints = kFixtures / "checkpoints";
  fine_tune("finetune_4c_20q", 3, 20, checkpoints / "pretrained.pth");
  fine_tune("finetune_3c_10q", 2, 10, checkpoints / "pretrained_legacy.pth");
  EXPECT_THAT(log_.str(), HasSubstr("initialised from " + display_path(checkpoints / "pretrained_legacy.pth") +
                                    ": 344 tensors loaded, 30 of them resized"));
  fine_tune("ema_model", 90, 20, checkpoints / "training.pth", /*ema=*/true);
  EXPECT_THAT(log_.str(), HasSubstr("training.pth (ema_model): 344 tensors loaded; 0 left fresh"));
  fine_tune("training_model", 90, 20, checkpoints / "training.pth");

  EXPECT_THAT([&] { open_starting_weights(checkpoints / "pretrained.pth", /*ema=*/true); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("pretrained.pth has no ema_model")));
  auto wider = tiny_seg({{"model.hidden_dim", "32", ""}});
  EXPECT_THAT([&] { load_starting_weights(*wider, open_starting_weights(checkpoints / "pretrained.pth", false),
                                          *logger_); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr(
                  "The recipe these weights fit: `rtseg recipe from-rfdetr " +
                  display_path(checkpoints / "pretrained.pth") + " -o recipe.toml`")));
}

// A detector's weights under a mask head: the head starts fresh. The other way: ignored.
TEST_F(StartingWeightsTest, MissingAndUnusedTensorsAreReportedNotFatal) {
  auto segmenter = tiny_seg({});
  load_starting_weights(*segmenter, open_starting_weights(kFixtures / "tiny_det" / "weights.safetensors", false),
                        *logger_);
  EXPECT_THAT(log_.str(), HasSubstr("left fresh (segmentation_head.*); 0 ignored"));
  auto detector = tiny_seg({}, "tiny_det");
  load_starting_weights(*detector, open_starting_weights(kPretrained, false), *logger_);
  EXPECT_THAT(log_.str(), HasSubstr("; 0 left fresh; 23 ignored (segmentation_head.*)"));
}

TEST_F(StartingWeightsTest, AnotherArchitectureNamesTheTensorsAndTheRecipeThatFits) {
  auto model = tiny_seg({{"model.hidden_dim", "32", ""}});
  try {
    load_starting_weights(*model, open_starting_weights(kFixtures / "tiny_seg" / "weights.safetensors", false),
                          *logger_);
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    const std::string text = error.what();
    EXPECT_THAT(text, HasSubstr(" tensors have another shape"));
    EXPECT_THAT(text, HasSubstr("\n  backbone.0.projector.stages.0.0.cv1.conv.weight: file [64, 256, 1, 1] vs model "
                                "[32, 256, 1, 1]\n"));
    EXPECT_THAT(text, HasSubstr("The recipe these weights fit: `rtseg recipe from-rfdetr " +
                                display_path(kFixtures / "tiny_seg" / "config.json")));
    EXPECT_THAT(text, Not(HasSubstr("--num_queries")));
  }
  // More queries than the checkpoint has: no rule makes them up.
  auto more = tiny_seg({{"model.num_queries", "30", ""}});
  EXPECT_THAT([&] { load_starting_weights(*more, open_starting_weights(kPretrained, false), *logger_); },
              ::testing::ThrowsMessage<sdk::ConfigError>(
                  ::testing::AllOf(HasSubstr("refpoint_embed.weight: file [260, 4] vs model [390, 4]"),
                        HasSubstr("lower --num_queries"))));
}

TEST_F(StartingWeightsTest, SourcesAndTheirEmaCopies) {
  EXPECT_THAT([] { open_starting_weights(kPretrained, /*ema=*/true); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("holds one set of weights; drop --weights_ema")));
  EXPECT_THAT([] { open_starting_weights("no/such.pth", false); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("\"no/such.pth\" does not exist")));

  // A run folder: its best weights; its EMA is weights/last when the run kept one.
  testing::TempDir run;
  fs::create_directories(run / "weights");
  fs::copy_file(kPretrained, run / "weights" / "best.safetensors");
  fs::copy_file(kFixtures / "checkpoints" / "ema_model.safetensors", run / "weights" / "last.safetensors");
  std::ofstream(run / "recipe.toml") << "[train]\nema = true\n";
  EXPECT_EQ(open_starting_weights(run.path(), false).file, run / "weights" / "best.safetensors");
  const StartingWeights ema = open_starting_weights(run.path(), true);
  EXPECT_EQ(ema.file, run / "weights" / "last.safetensors");
  EXPECT_THAT(ema.label, HasSubstr("(the run's EMA)"));
  EXPECT_THAT(ema.fitting_recipe, HasSubstr("--recipe " + display_path(run / "recipe.toml")));
  std::ofstream(run / "recipe.toml") << "[train]\nema = false\n";
  EXPECT_THAT([&] { open_starting_weights(run.path(), true); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("trained without an EMA (train.ema = false)")));
}

}  // namespace
}  // namespace rtseg::framework::train
