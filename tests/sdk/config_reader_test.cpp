#include "rtseg/sdk/config_reader.h"

#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"

namespace rtseg {
namespace {

using framework::RecipeDocument;
using sdk::ConfigError;
using sdk::ConfigReader;
using ::testing::HasSubstr;
using ::testing::Not;

// Readers over the tables of a recipe parsed from `text`, named "recipe.toml".
struct Fixture {
  explicit Fixture(const std::string& text)
      : document(RecipeDocument::parse_text(text, "recipe.toml")) {}
  ConfigReader reader(const std::string& path) {
    const toml::table* table =
        path.empty() ? &document.root() : document.root().at_path(path).as_table();
    return ConfigReader(table, path, "", document.origin_lookup());
  }
  RecipeDocument document;
};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no ConfigError)";
}

TEST(ConfigReader, ReadsTypedValuesAndDefaults) {
  Fixture f(
      "[train]\nbatch = 8\nlr = 2e-4\namp = \"bf16\"\nema = false\nscales = [1, 2, 3]\n"
      "ratio = 3\nnames = [\"a\", \"b\"]\nwidths = [0.5, 1]\n");
  ConfigReader r = f.reader("train");
  EXPECT_EQ(r.get<std::int64_t>("batch", 4, "doc"), 8);
  EXPECT_EQ(r.get("accum", 4, "doc"), 4);  // absent: the default
  EXPECT_DOUBLE_EQ(r.get("lr", 1e-4, "doc"), 2e-4);
  EXPECT_DOUBLE_EQ(r.get("ratio", 0.5, "doc"), 3.0);  // an integer where a float is expected
  EXPECT_EQ(r.get("amp", "auto", "doc"), "bf16");
  EXPECT_FALSE(r.get("ema", true, "doc"));
  EXPECT_EQ(r.get("scales", std::vector<std::int64_t>{}, "doc"),
            (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(r.get("names", std::vector<std::string>{}, "doc"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.get("widths", std::vector<double>{}, "doc"), (std::vector<double>{0.5, 1.0}));
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, TypeMismatchNamesFileLineKeyAndBothTypes) {
  Fixture f("[train]\n\nbatch = \"four\"\n");
  ConfigReader r = f.reader("train");
  const std::string message = error_of([&] { r.get<std::int64_t>("batch", 4, "doc"); });
  EXPECT_THAT(message, HasSubstr("recipe.toml:3:"));
  EXPECT_THAT(message, HasSubstr("train.batch"));
  EXPECT_THAT(message, HasSubstr("expected int, found a string"));
}

TEST(ConfigReader, FloatIsNotAcceptedForAnInteger) {
  Fixture f("[train]\nbatch = 2.5\nwide = 5000000000\n");
  ConfigReader r = f.reader("train");
  EXPECT_THAT(error_of([&] { r.get<std::int64_t>("batch", 4, ""); }),
              HasSubstr("expected int, found a float"));
  EXPECT_THAT(error_of([&] { r.get<int>("wide", 1, ""); }), HasSubstr("out of range"));
  EXPECT_EQ(r.get<std::int64_t>("wide", 1, ""), 5000000000);
}

TEST(ConfigReader, ListWithAWrongElementIsAnError) {
  Fixture f("[model]\nids = [1, \"two\"]\n");
  ConfigReader r = f.reader("model");
  EXPECT_THAT(error_of([&] { r.get("ids", std::vector<std::int64_t>{}, ""); }),
              HasSubstr("expected list of int, found a list"));
}

TEST(ConfigReader, UnknownKeyGivesLocationSuggestionAndValidKeys) {
  Fixture f("[train]\nbatch = 2\n\nbacth = 4\n");
  ConfigReader r = f.reader("train");
  r.get("batch", 1, "images per step");
  r.get("accum", 1, "micro-batches");
  const std::string message = error_of([&] { r.finish(); });
  EXPECT_THAT(message, HasSubstr("recipe.toml:4:"));
  EXPECT_THAT(message, HasSubstr("train.bacth"));
  EXPECT_THAT(message, HasSubstr("unknown key 'bacth'"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'batch'?"));
  EXPECT_THAT(message, HasSubstr("Valid keys here: batch, accum"));
}

TEST(ConfigReader, EveryUnknownKeyIsListed) {
  Fixture f("[train]\nfoo = 1\nbar = 2\n");
  ConfigReader r = f.reader("train");
  const std::string message = error_of([&] { r.finish(); });
  EXPECT_THAT(message, HasSubstr("unknown key 'foo'"));
  EXPECT_THAT(message, HasSubstr("unknown key 'bar'"));
  EXPECT_THAT(message, Not(HasSubstr("Did you mean")));
}

TEST(ConfigReader, SkippedKeysAreAccepted) {
  Fixture f("[model.backbone]\ntype = \"dinov2\"\n");
  ConfigReader r = f.reader("model.backbone");
  r.skip("type");
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, RequiredKeyMissingIsReportedAtItsSection) {
  Fixture f("x = 1\n\n[data]\nsplit = \"train\"\n");
  ConfigReader r = f.reader("data");
  const std::string message = error_of([&] { r.require<std::string>("path", "dataset folder"); });
  EXPECT_THAT(message, HasSubstr("recipe.toml:3:"));
  EXPECT_THAT(message, HasSubstr("data.path"));
  EXPECT_THAT(message, HasSubstr("required (dataset folder)"));
}

TEST(ConfigReader, SectionsAreReadAndFinishedWithTheirParent) {
  Fixture f("[train]\nbatch = 1\n[train.loss]\nbbox_weight = 3.0\ngiuo_weight = 1.0\n");
  ConfigReader r = f.reader("train");
  r.get("batch", 1, "");
  ConfigReader& loss = r.section("loss", "loss weights");
  EXPECT_DOUBLE_EQ(loss.get("bbox_weight", 5.0, ""), 3.0);
  loss.get("giou_weight", 2.0, "");
  const std::string message = error_of([&] { r.finish(); });
  EXPECT_THAT(message, HasSubstr("train.loss.giuo_weight"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'giou_weight'?"));
  EXPECT_THAT(message, HasSubstr("recipe.toml:5:"));
}

TEST(ConfigReader, AbsentSectionReadsDefaults) {
  Fixture f("[train]\nbatch = 1\n");
  ConfigReader r = f.reader("train");
  r.get("batch", 1, "");
  ConfigReader& loss = r.section("loss", "");
  EXPECT_DOUBLE_EQ(loss.get("bbox_weight", 5.0, ""), 5.0);
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, SectionThatIsAValueIsAnError) {
  Fixture f("[train]\nloss = 3\n");
  ConfigReader r = f.reader("train");
  EXPECT_THAT(error_of([&] { r.section("loss", ""); }), HasSubstr("expected a table, found an integer"));
}

TEST(ConfigReader, ChoiceAndCheckValidate) {
  Fixture f("[train]\namp = \"bf61\"\nbatch = 0\n");
  ConfigReader r = f.reader("train");
  const std::string message =
      error_of([&] { r.choice("amp", "auto", {"auto", "bf16", "fp16", "off"}, "precision"); });
  EXPECT_THAT(message, HasSubstr("'bf61' is not one of: auto, bf16, fp16, off"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'bf16'?"));
  const auto batch = r.get("batch", 1, "");
  EXPECT_THAT(error_of([&] { r.check(batch >= 1, "batch", "must be at least 1."); }),
              HasSubstr("recipe.toml:3:9: train.batch: must be at least 1."));
}

TEST(ConfigReader, DescribingRecordsDocsWithoutReading) {
  ConfigReader r = ConfigReader::describing("train", "train");
  EXPECT_TRUE(r.describing());
  EXPECT_EQ(r.get("batch", 4, "images per step"), 4);
  EXPECT_DOUBLE_EQ(r.get("lr", 1e-4, "learning rate"), 1e-4);
  r.require<std::string>("path", "dataset folder");
  r.check(false, "batch", "ignored while describing");
  ConfigReader& loss = r.section("loss", "weights");
  loss.get("names", std::vector<std::string>{"a"}, "some names");
  r.choice("amp", "auto", {"auto", "off"}, "precision");
  EXPECT_NO_THROW(r.finish());

  const auto& docs = r.docs();
  ASSERT_EQ(docs.size(), 6u);
  EXPECT_EQ(docs[0].key, "batch");
  EXPECT_EQ(docs[0].type, "int");
  EXPECT_EQ(docs[0].default_value, "4");
  EXPECT_EQ(docs[0].doc, "images per step");
  EXPECT_EQ(docs[1].default_value, "0.0001");
  EXPECT_EQ(docs[1].type, "float");
  EXPECT_TRUE(docs[2].required);
  EXPECT_EQ(docs[3].key, "loss");
  EXPECT_EQ(docs[4].key, "loss.names");
  EXPECT_EQ(docs[4].default_value, "[\"a\"]");
  EXPECT_EQ(docs[4].type, "list of string");
  EXPECT_EQ(docs[5].doc, "precision (one of: auto, off)");
}

}  // namespace
}  // namespace rtseg
