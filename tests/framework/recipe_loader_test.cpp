#include "rtseg/framework/recipe_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

using rtseg::testing::TempDir;
using ::testing::HasSubstr;

std::string load_error(const RecipeRequest& request) {
  try {
    load_recipe(request);
  } catch (const sdk::ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

std::int64_t int_at(const LoadedRecipe& recipe, const char* path) {
  return recipe.document.root().at_path(path).value<std::int64_t>().value_or(-1);
}

TEST(RecipeLoader, FollowsAnExtendsChainRelativeToEachFile) {
  TempDir dir;
  dir.write("base/train.toml", "[train]\nbatch = 4\naccum = 4\nepochs = 100\n");
  dir.write("variants/nano.toml", "extends = \"../base/train.toml\"\n[model]\nresolution = 384\n");
  const auto recipe_file =
      dir.write("mine/recipe.toml", "extends = \"../variants/nano.toml\"\n[train]\nbatch = 2\n");
  const LoadedRecipe recipe = load_recipe(RecipeRequest{recipe_file, "", std::nullopt, {}});
  EXPECT_EQ(int_at(recipe, "train.batch"), 2);
  EXPECT_EQ(int_at(recipe, "train.accum"), 4);
  EXPECT_EQ(int_at(recipe, "model.resolution"), 384);
  EXPECT_FALSE(recipe.document.root().contains("extends"));
  EXPECT_EQ(recipe.document.files.size(), 3u);
  EXPECT_THAT(recipe.document.origin("train.accum").file, HasSubstr("base/train.toml"));
  EXPECT_EQ(recipe.document.origin("train.accum").line, 3);
}

TEST(RecipeLoader, ExtendsAListMergesInOrder) {
  TempDir dir;
  dir.write("a.toml", "[train]\nbatch = 1\naccum = 1\n");
  dir.write("b.toml", "[train]\nbatch = 2\n");
  const auto file = dir.write("c.toml", "extends = [\"a.toml\", \"b.toml\"]\n");
  const LoadedRecipe recipe = load_recipe(RecipeRequest{file, "", std::nullopt, {}});
  EXPECT_EQ(int_at(recipe, "train.batch"), 2);
  EXPECT_EQ(int_at(recipe, "train.accum"), 1);
}

TEST(RecipeLoader, DetectsCycles) {
  TempDir dir;
  dir.write("a.toml", "extends = \"b.toml\"\n");
  dir.write("b.toml", "extends = \"c.toml\"\n");
  const auto file = dir.write("c.toml", "extends = \"a.toml\"\n");
  const std::string message = load_error(RecipeRequest{file, "", std::nullopt, {}});
  EXPECT_THAT(message, HasSubstr("`extends` makes a cycle"));
  EXPECT_THAT(message, HasSubstr("c.toml -> "));
  EXPECT_THAT(message, HasSubstr("a.toml -> "));
  EXPECT_THAT(message, HasSubstr("b.toml -> "));
}

TEST(RecipeLoader, MissingBaseNamesTheExtendingFileAndLine) {
  TempDir dir;
  const auto file = dir.write("r.toml", "\nextends = \"nope.toml\"\n");
  const std::string message = load_error(RecipeRequest{file, "", std::nullopt, {}});
  EXPECT_THAT(message, HasSubstr("r.toml:2:11"));
  EXPECT_THAT(message, HasSubstr("nope.toml' does not exist"));
}

TEST(RecipeLoader, ExtendsMustBeAPath) {
  TempDir dir;
  const auto file = dir.write("r.toml", "extends = 3\n");
  EXPECT_THAT(load_error(RecipeRequest{file, "", std::nullopt, {}}),
              HasSubstr("extends: expected a path or a list of paths"));
}

TEST(RecipeLoader, MissingRecipeFile) {
  TempDir dir;
  EXPECT_THAT(load_error(RecipeRequest{dir / "absent.toml", "", std::nullopt, {}}),
              HasSubstr("absent.toml' does not exist"));
}

TEST(Overrides, ParseTomlValuesOrFallBackToStrings) {
  TempDir dir;
  const auto file = dir.write("r.toml", "[train]\nbatch = 4\n");
  RecipeRequest request{file, "", std::nullopt, {}};
  for (const char* item : {"train.batch=8", "train.lr=2e-4", "train.ema=false", "data.path=/data/x",
                           "model.ids=[1, 2]", "data.name=\"quoted\""}) {
    request.overrides.push_back(parse_override(item));
  }
  const LoadedRecipe recipe = load_recipe(request);
  const auto& root = recipe.document.root();
  EXPECT_EQ(root.at_path("train.batch").value<std::int64_t>(), 8);
  EXPECT_EQ(root.at_path("train.lr").value<double>(), 2e-4);
  EXPECT_EQ(root.at_path("train.ema").value<bool>(), false);
  EXPECT_EQ(root.at_path("data.path").value<std::string>(), "/data/x");
  EXPECT_EQ(root.at_path("model.ids").as_array()->size(), 2u);
  EXPECT_EQ(root.at_path("data.name").value<std::string>(), "quoted");
  EXPECT_EQ(recipe.document.origin("train.batch").to_string(),
            "command line (--set train.batch=8)");
}

TEST(Overrides, MalformedAssignmentsAreUsageErrors) {
  EXPECT_THROW(parse_override("train.batch"), sdk::ConfigError);
  EXPECT_THROW(parse_override("=4"), sdk::ConfigError);
  EXPECT_THROW(parse_override("train..batch=4"), sdk::ConfigError);
  EXPECT_THROW(parse_override("train.ba tch=4"), sdk::ConfigError);
  EXPECT_EQ(parse_override("a.b=x=y").text, "x=y");
}

TEST(SizeVariant, SwapsTheVariantTheRecipeExtends) {
  TempDir dir;
  dir.write("variants/nano.toml", "[model]\nsize = \"nano\"\nresolution = 384\n[train]\nbatch = 4\n");
  dir.write("variants/small.toml", "[model]\nsize = \"small\"\nresolution = 512\n");
  const auto file = dir.write("r.toml", "extends = \"variants/nano.toml\"\n[train]\nbatch = 2\n");
  const LoadedRecipe recipe = load_recipe(RecipeRequest{file, "small", std::nullopt, {}});
  EXPECT_EQ(recipe.document.root().at_path("model.size").value<std::string>(), "small");
  EXPECT_EQ(int_at(recipe, "model.resolution"), 512);
  EXPECT_EQ(int_at(recipe, "train.batch"), 2);  // the recipe's own values still win
}

TEST(SizeVariant, BecomesTheBaseWhenTheRecipeExtendsNone) {
  TempDir dir;
  dir.write("shipped/variants/small.toml", "[model]\nsize = \"small\"\nresolution = 512\n");
  const auto file = dir.write("r.toml", "[model]\nresolution = 640\n");
  const LoadedRecipe recipe =
      load_recipe(RecipeRequest{file, "small", dir / "shipped/variants", {}});
  EXPECT_EQ(recipe.document.root().at_path("model.size").value<std::string>(), "small");
  EXPECT_EQ(int_at(recipe, "model.resolution"), 640);
}

TEST(SizeVariant, UnknownSizeListsTheSizes) {
  TempDir dir;
  dir.write("variants/nano.toml", "");
  dir.write("variants/small.toml", "");
  const auto file = dir.write("r.toml", "extends = \"variants/nano.toml\"\n");
  const std::string message = load_error(RecipeRequest{file, "smal", std::nullopt, {}});
  EXPECT_THAT(message, HasSubstr("no size variant 'smal'"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'small'?"));
  EXPECT_THAT(message, HasSubstr("Sizes: nano, small"));
}

}  // namespace
}  // namespace rtseg::framework
