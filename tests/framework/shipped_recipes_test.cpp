// Every recipe in recipes/ loads, expands and passes the host's key checks (the plugin options are
// checked by `rtseg recipe check` in the CLI tests once the plugins are present). Recipes
// cannot rot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/recipe.h"

namespace rtseg::framework {
namespace {

std::vector<std::filesystem::path> shipped_recipes() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ShippedRecipes, AllPassTheHostChecks) {
  const auto files = shipped_recipes();
  ASSERT_GE(files.size(), 9u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const LoadedRecipe recipe = load_recipe(RecipeRequest{file, "", std::nullopt, {}});
    for (const Stage& stage : expand_stages(recipe)) {
      if (file.parent_path().filename() == "base") continue;  // a fragment, not a whole recipe
      EXPECT_NO_THROW(check_host_keys(stage.document)) << stage.name;
    }
  }
}

TEST(ShippedRecipes, VariantsMatchTheSeedSizeTable) {
  struct Row {
    const char* size;
    const char* encoder;
    std::int64_t resolution;
    std::int64_t hidden_dim;
  };
  const Row seed_table[] = {{"nano", "small", 384, 256},
                            {"small", "small", 512, 256},
                            {"base", "base", 560, 256},
                            {"medium", "small", 576, 256},
                            {"large", "base", 560, 384}};
  const auto dir = std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes" / "variants";
  for (const Row& row : seed_table) {
    SCOPED_TRACE(row.size);
    const LoadedRecipe recipe =
        load_recipe(RecipeRequest{dir / (std::string(row.size) + ".toml"), "", std::nullopt, {}});
    const CheckedRecipe checked = check_host_keys(recipe.document);
    EXPECT_EQ(checked.model.size, row.size);
    EXPECT_EQ(checked.model.resolution, row.resolution);
    EXPECT_EQ(checked.model.hidden_dim, row.hidden_dim);
    EXPECT_EQ(recipe.document.root().at_path("model.backbone.encoder").value<std::string>(), row.encoder);
    const auto patch = recipe.document.root().at_path("model.backbone.patch_size").value<std::int64_t>();
    const auto windows = recipe.document.root().at_path("model.backbone.num_windows").value<std::int64_t>();
    EXPECT_EQ(row.resolution % (*patch * *windows), 0) << "resolution must divide into windows";
  }
}

TEST(ShippedRecipes, RfDetrVariantsAreRfDetrsPublishedSizes) {
  // RF-DETR 1.4.1's rfdetr/config.py: RFDETR{Nano,Small,Medium,Base,Large}Config and
  // RFDETRSeg{Nano,Small,Medium,Large,XLarge,2XLarge}Config (all DINOv2-S windowed, hidden 256).
  struct Row {
    const char* size;
    std::int64_t patch, windows, resolution, positional_encoding, dec_layers, queries;
  };
  const Row rows[] = {{"rfdetr-nano", 16, 2, 384, 24, 2, 300},       {"rfdetr-small", 16, 2, 512, 32, 3, 300},
                      {"rfdetr-medium", 16, 2, 576, 36, 4, 300},     {"rfdetr-base", 14, 4, 560, 37, 3, 300},
                      {"rfdetr-large", 16, 2, 704, 44, 4, 300},      {"rfdetr-seg-nano", 12, 1, 312, 26, 4, 100},
                      {"rfdetr-seg-small", 12, 2, 384, 32, 4, 100},  {"rfdetr-seg-medium", 12, 2, 432, 36, 5, 200},
                      {"rfdetr-seg-large", 12, 2, 504, 42, 5, 200},  {"rfdetr-seg-xlarge", 12, 2, 624, 52, 6, 300},
                      {"rfdetr-seg-2xlarge", 12, 2, 768, 64, 6, 300}};
  const auto dir = std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes" / "variants";
  for (const Row& row : rows) {
    SCOPED_TRACE(row.size);
    const LoadedRecipe recipe =
        load_recipe(RecipeRequest{dir / (std::string(row.size) + ".toml"), "", std::nullopt, {}});
    const CheckedRecipe checked = check_host_keys(recipe.document);
    const toml::table& root = recipe.document.root();
    EXPECT_EQ(checked.model.size, row.size);
    EXPECT_EQ(checked.model.resolution, row.resolution);
    EXPECT_EQ(checked.model.hidden_dim, 256);
    EXPECT_EQ(checked.model.num_queries, row.queries);
    EXPECT_EQ(checked.model.num_classes, 90);
    EXPECT_EQ(root.at_path("model.backbone.encoder").value<std::string>(), "small");
    EXPECT_EQ(root.at_path("model.backbone.patch_size").value<std::int64_t>(), row.patch);
    EXPECT_EQ(root.at_path("model.backbone.num_windows").value<std::int64_t>(), row.windows);
    EXPECT_EQ(root.at_path("model.backbone.positional_encoding_size").value<std::int64_t>(), row.positional_encoding);
    EXPECT_EQ(root.at_path("model.decoder.dec_layers").value<std::int64_t>(), row.dec_layers);
    EXPECT_EQ(checked.seg_head.has_value(), std::string(row.size).rfind("rfdetr-seg-", 0) == 0);
    EXPECT_EQ(row.resolution % (row.patch * row.windows), 0) << "resolution must divide into windows";
  }
  // --size swaps them into the seed's flows like the seed's sizes.
  const auto single = std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes/pipelines/seg_single_stage.toml";
  const LoadedRecipe swapped = load_recipe(RecipeRequest{single, "rfdetr-seg-small", dir, {}});
  const CheckedRecipe checked = check_host_keys(expand_stages(swapped).at(0).document);
  EXPECT_EQ(checked.model.size, "rfdetr-seg-small");
  EXPECT_EQ(checked.model.resolution, 384);
}

TEST(ShippedRecipes, SeedPipelinesHaveTheirStages) {
  const auto dir = std::filesystem::path(RTSEG_SOURCE_DIR) / "recipes" / "pipelines";
  auto stages_of = [&](const char* name) {
    return expand_stages(load_recipe(RecipeRequest{dir / name, "", std::nullopt, {}}));
  };
  const auto stage1 = stages_of("detector_stage1.toml");
  ASSERT_EQ(stage1.size(), 1u);
  EXPECT_EQ(stage1[0].name, "detector");
  EXPECT_FALSE(check_host_keys(stage1[0].document).seg_head);

  const auto stage2 = stages_of("seg_stage2.toml");
  ASSERT_EQ(stage2.size(), 1u);
  EXPECT_EQ(stage2[0].freeze, (std::vector<std::string>{"backbone", "decoder"}));
  EXPECT_EQ(stage2[0].init_from, "runs/detector_nano_384_1");
  const CheckedRecipe seg = check_host_keys(stage2[0].document);
  EXPECT_TRUE(seg.seg_head);
  EXPECT_EQ(seg.train.batch, 1);
  EXPECT_EQ(seg.train.accum, 8);

  const auto single = stages_of("seg_single_stage.toml");
  ASSERT_EQ(single.size(), 1u);
  EXPECT_TRUE(single[0].freeze.empty());
  EXPECT_TRUE(check_host_keys(single[0].document).seg_head);
}

}  // namespace
}  // namespace rtseg::framework
