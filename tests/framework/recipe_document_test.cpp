#include "rtseg/framework/recipe_document.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/recipe_printer.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

using ::testing::HasSubstr;

RecipeDocument parse(const std::string& text, const std::string& name) {
  return RecipeDocument::parse_text(text, name);
}

TEST(RecipeDocument, RecordsOriginsOfEveryValue) {
  const auto doc = parse("a = 1\n[train]\nbatch = 4\n[[stage]]\nname = \"x\"\n", "r.toml");
  EXPECT_EQ(doc.origin("a").to_string(), "r.toml:1:5");
  EXPECT_EQ(doc.origin("train.batch").to_string(), "r.toml:3:9");
  EXPECT_EQ(doc.origin("stage[0].name").line, 5);
  EXPECT_EQ(doc.origin_lookup()("train.missing").to_string(), "r.toml:2:1");  // nearest parent
  EXPECT_EQ(doc.origin_lookup()("nothing.at.all").to_string(), "r.toml");
}

TEST(RecipeDocument, SyntaxErrorNamesFileAndLine) {
  try {
    parse("[train]\nbatch = = 4\n", "broken.toml");
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("broken.toml:2:"));
    EXPECT_THAT(error.what(), HasSubstr("TOML syntax error"));
  }
}

TEST(RecipeDocument, DeepMergeOverridesLeavesAndKeepsOrigins) {
  auto base = parse("[train]\nbatch = 4\naccum = 4\n[model]\nresolution = 384\n", "base.toml");
  const auto top = parse("[train]\nbatch = 2\nscales = [1, 2]\n", "top.toml");
  base.merge(top);
  EXPECT_EQ(base.root().at_path("train.batch").value<std::int64_t>(), 2);
  EXPECT_EQ(base.root().at_path("train.accum").value<std::int64_t>(), 4);
  EXPECT_EQ(base.root().at_path("model.resolution").value<std::int64_t>(), 384);
  EXPECT_EQ(base.origin("train.batch").file, "top.toml");
  EXPECT_EQ(base.origin("train.accum").file, "base.toml");
  EXPECT_EQ(base.origin("train.scales").file, "top.toml");
  EXPECT_EQ(base.files, (std::vector<std::string>{"base.toml", "top.toml"}));
}

TEST(RecipeDocument, ArraysAndValuesAreReplacedWhole) {
  auto base = parse("ids = [1, 2, 3]\n[model]\nx = 1\n", "base.toml");
  base.merge(parse("ids = [9]\nmodel = 5\n", "top.toml"));
  EXPECT_EQ(base.root()["ids"].as_array()->size(), 1u);
  EXPECT_EQ(base.root()["model"].value<std::int64_t>(), 5);
  EXPECT_EQ(base.origin("model.x").file, "");  // the old table's origins went with it
}

TEST(RecipeDocument, ComponentWithAnotherTypeReplacesTheTable) {
  auto base = parse("[data]\ntype = \"synthetic_shapes\"\nimages = 200\n", "base.toml");
  base.merge(parse("[data]\ntype = \"coco\"\npath = \"dataset\"\n", "top.toml"));
  EXPECT_EQ(base.root().at_path("data.type").value<std::string>(), "coco");
  EXPECT_FALSE(base.root().at_path("data.images"));
  EXPECT_EQ(base.root().at_path("data.path").value<std::string>(), "dataset");

  auto same = parse("[data]\ntype = \"coco\"\npath = \"a\"\nsplit = \"train\"\n", "base.toml");
  same.merge(parse("[data]\ntype = \"coco\"\npath = \"b\"\n", "top.toml"));
  EXPECT_EQ(same.root().at_path("data.split").value<std::string>(), "train");  // same type: merged
}

TEST(RecipeDocument, SetCreatesTablesAndRefusesToCrossAValue) {
  auto doc = parse("[train]\nbatch = 4\n", "r.toml");
  const sdk::Origin cli{"", 0, 0, "command line"};
  doc.set("train.loss.bbox_weight", toml::value<double>(3.0), cli);
  EXPECT_EQ(doc.root().at_path("train.loss.bbox_weight").value<double>(), 3.0);
  EXPECT_EQ(doc.origin("train.loss.bbox_weight").to_string(), "command line");
  try {
    doc.set("train.batch.size", toml::value<std::int64_t>(1), cli);
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("'train.batch' is a value, not a table"));
  }
}

TEST(RecipePrinter, PrintsOriginsAndParsesBackToTheSameRecipe) {
  auto doc = parse(
      "description = \"demo\"\n[model]\nresolution = 384\n[model.backbone]\ntype = \"x\"\n"
      "[[stage]]\nname = \"a\"\n[stage.train]\nbatch = 2\n[[stage]]\nname = \"b\"\n",
      "r.toml");
  doc.set("train.lr", toml::value<double>(2e-4), sdk::Origin{"", 0, 0, "command line (--set train.lr=2e-4)"});
  std::ostringstream out;
  print_recipe(out, doc);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("resolution = 384"));
  EXPECT_THAT(text, HasSubstr("# r.toml:3:14"));
  EXPECT_THAT(text, HasSubstr("# command line (--set train.lr=2e-4)"));
  EXPECT_THAT(text, HasSubstr("[[stage]]"));
  EXPECT_THAT(text, HasSubstr("[stage.train]"));
  const toml::table reparsed = toml::parse(text);
  EXPECT_EQ(reparsed, doc.root());
}

}  // namespace
}  // namespace rtseg::framework
