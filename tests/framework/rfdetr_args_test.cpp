#include "rtseg/framework/rfdetr_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>
#include <torch/types.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/rfdetr/checkpoint.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::optional<Json> fixture_config(const std::string& name) {
  const fs::path path = fs::path(RTSEG_RFDETR_FIXTURES) / name / "config.json";
  if (!fs::exists(path)) return std::nullopt;
  return Json::parse(std::ifstream(path));
}

toml::table recipe_of(const Json& args) {
  const std::string text = recipe_from_rfdetr_args(args);
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& error) {
    ADD_FAILURE() << "not TOML: " << error.description() << "\n" << text;
    return {};
  }
}

template <class T>
T at(const toml::table& table, std::string_view path) {
  const auto value = table.at_path(path).value<T>();
  EXPECT_TRUE(value.has_value()) << "no " << path;
  return value.value_or(T{});
}

std::vector<std::int64_t> integers(const toml::table& table, std::string_view path) {
  std::vector<std::int64_t> values;
  if (const toml::array* array = table.at_path(path).as_array()) {
    for (const auto& item : *array) values.push_back(item.value_or(std::int64_t{-1}));
  }
  return values;
}

// RF-DETR-Base-like arguments (a subset, as an old checkpoint might carry).
Json base_args() {
  return Json{{"encoder", "dinov2_windowed_base"},
              {"resolution", 560},
              {"num_classes", 90},
              {"num_queries", 300},
              {"num_select", 300},
              {"hidden_dim", 256},
              {"patch_size", 14},
              {"num_windows", 4},
              {"positional_encoding_size", 37},
              {"out_feature_indexes", {2, 5, 8, 11}},
              {"projector_scale", "P4"},
              {"dec_layers", 3},
              {"sa_nheads", 8},
              {"ca_nheads", 16},
              {"dec_n_points", 2},
              {"dim_feedforward", 2048},
              {"group_detr", 13},
              {"two_stage", true},
              {"bbox_reparam", true},
              {"lite_refpoint_refine", true},
              {"layer_norm", true},
              {"amp", true},
              {"ema_tau", 100},
              {"lr_scheduler", "cosine"},
              {"warmup_epochs", 0.5},
              {"lr_min_factor", 0.05},
              {"use_varifocal_loss", true},
              {"ia_bce_loss", false},
              {"freeze_encoder", true}};
}

void expect_config_error(const Json& args, const std::string& message) {
  try {
    recipe_from_rfdetr_args(args);
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr(message));
  }
}

TEST(RfdetrArgs, TinySegmentationFixtureBecomesAFullRecipe) {
  const auto config = fixture_config("tiny_seg");
  if (!config) GTEST_SKIP() << "RF-DETR fixtures not found at " << RTSEG_RFDETR_FIXTURES;
  const toml::table recipe = recipe_of(*config);

  EXPECT_EQ(at<std::int64_t>(recipe, "model.resolution"), 128);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.num_classes"), 3);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.num_queries"), 20);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.num_select"), 20);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.hidden_dim"), 64);

  EXPECT_EQ(at<std::string>(recipe, "model.backbone.type"), "dinov2");
  EXPECT_EQ(at<std::string>(recipe, "model.backbone.encoder"), "small");
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_register_tokens"), 0);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.patch_size"), 16);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_windows"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.positional_encoding_size"), 8);
  EXPECT_EQ(integers(recipe, "model.backbone.out_feature_indexes"),
            (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(at<std::string>(recipe, "model.backbone.projector_scale[0]"), "P4");
  EXPECT_EQ(recipe.at_path("model.backbone.projector_scale").as_array()->size(), 1u);
  EXPECT_EQ(at<double>(recipe, "model.backbone.drop_path"), 0.0);
  EXPECT_FALSE(at<bool>(recipe, "model.backbone.freeze"));
  // The tiny ViT differs from the DINOv2-S preset (384 wide, 6 heads, 12 layers).
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.hidden_size"), 64);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_heads"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_layers"), 4);

  EXPECT_EQ(at<std::string>(recipe, "model.decoder.type"), "lwdetr");
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.dec_layers"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.sa_nheads"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.ca_nheads"), 4);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.dec_n_points"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.dim_feedforward"), 128);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.decoder.group_detr"), 13);
  EXPECT_TRUE(at<bool>(recipe, "model.decoder.two_stage"));
  EXPECT_TRUE(at<bool>(recipe, "model.decoder.bbox_reparam"));
  EXPECT_TRUE(at<bool>(recipe, "model.decoder.lite_refpoint_refine"));
  EXPECT_EQ(at<double>(recipe, "model.decoder.dropout"), 0.0);
  EXPECT_EQ(at<std::string>(recipe, "model.decoder.decoder_norm"), "LN");

  EXPECT_EQ(at<std::string>(recipe, "model.seg_head.type"), "rfdetr_mask");
  EXPECT_EQ(at<std::int64_t>(recipe, "model.seg_head.downsample_ratio"), 4);

  EXPECT_EQ(at<std::int64_t>(recipe, "train.batch"), 2);
  EXPECT_EQ(at<std::int64_t>(recipe, "train.accum"), 1);
  EXPECT_EQ(at<std::int64_t>(recipe, "train.epochs"), 12);
  EXPECT_EQ(at<double>(recipe, "train.lr"), 1e-4);
  EXPECT_EQ(at<double>(recipe, "train.lr_encoder"), 1.5e-4);
  EXPECT_EQ(at<double>(recipe, "train.lr_component_decay"), 1.0);
  EXPECT_EQ(at<double>(recipe, "train.clip_max_norm"), 0.1);
  EXPECT_EQ(at<std::string>(recipe, "train.amp"), "off");
  EXPECT_FALSE(at<bool>(recipe, "train.ema"));
  EXPECT_EQ(at<double>(recipe, "train.ema_decay"), 0.9997);
  EXPECT_EQ(at<double>(recipe, "train.ema_tau"), 0.0);  // RF-DETR's 0: no warm-up, same in rtseg
  EXPECT_FALSE(at<bool>(recipe, "train.multi_scale"));
  EXPECT_EQ(at<std::int64_t>(recipe, "train.seed"), 42);

  EXPECT_EQ(at<std::string>(recipe, "train.loss.class_loss"), "ia_bce");
  EXPECT_EQ(at<double>(recipe, "train.loss.class_weight"), 1.0);
  EXPECT_EQ(at<double>(recipe, "train.loss.bbox_weight"), 5.0);
  EXPECT_EQ(at<double>(recipe, "train.loss.giou_weight"), 2.0);
  EXPECT_EQ(at<double>(recipe, "train.loss.focal_alpha"), 0.25);
  EXPECT_EQ(at<double>(recipe, "train.loss.mask_ce_weight"), 5.0);
  EXPECT_EQ(at<double>(recipe, "train.loss.mask_dice_weight"), 5.0);
  EXPECT_EQ(at<std::int64_t>(recipe, "train.loss.mask_point_sample_ratio"), 16);
  EXPECT_TRUE(at<bool>(recipe, "train.loss.aux_loss"));
  EXPECT_EQ(at<double>(recipe, "train.matcher.class_cost"), 2.0);
  EXPECT_EQ(at<double>(recipe, "train.matcher.bbox_cost"), 5.0);
  EXPECT_EQ(at<double>(recipe, "train.matcher.giou_cost"), 2.0);

  EXPECT_EQ(at<std::string>(recipe, "train.scheduler.type"), "step");
  EXPECT_EQ(integers(recipe, "train.scheduler.drop_epochs"), (std::vector<std::int64_t>{11}));
  EXPECT_EQ(at<double>(recipe, "train.scheduler.gamma"), 0.1);
  EXPECT_EQ(at<double>(recipe, "train.scheduler.warmup_epochs"), 1.0);
}

TEST(RfdetrArgs, FixtureRecipesPassTheHostsOwnChecks) {
  for (const char* name : {"tiny_seg", "tiny_det"}) {
    const auto config = fixture_config(name);
    if (!config) GTEST_SKIP() << "RF-DETR fixtures not found at " << RTSEG_RFDETR_FIXTURES;
    SCOPED_TRACE(name);
    const std::string text = recipe_from_rfdetr_args(*config);
    const CheckedRecipe checked = check_host_keys(RecipeDocument::parse_text(text, name));
    EXPECT_EQ(checked.model.resolution, 128);
    EXPECT_EQ(checked.train.loss.class_loss, "ia_bce");
    EXPECT_EQ(checked.seg_head.has_value(), std::string(name) == "tiny_seg");
    EXPECT_EQ(checked.backbone.type, "dinov2");
    EXPECT_EQ(checked.decoder.type, "lwdetr");
  }
}

TEST(RfdetrArgs, DetectorHasNoSegmentationHead) {
  const auto config = fixture_config("tiny_det");
  if (!config) GTEST_SKIP() << "RF-DETR fixtures not found at " << RTSEG_RFDETR_FIXTURES;
  const toml::table recipe = recipe_of(*config);
  EXPECT_FALSE(recipe.at_path("model.seg_head"));
  EXPECT_THAT(at<std::string>(recipe, "description"), HasSubstr("detection"));
}

TEST(RfdetrArgs, PresetSizedEncodersNeedNoViTShape) {
  Json args = base_args();
  const toml::table recipe = recipe_of(args);
  EXPECT_EQ(at<std::string>(recipe, "model.backbone.encoder"), "base");
  EXPECT_FALSE(recipe.at_path("model.backbone.hidden_size"));
  EXPECT_TRUE(at<bool>(recipe, "model.backbone.freeze"));
  EXPECT_EQ(at<std::string>(recipe, "model.backbone.projector_scale[0]"), "P4");  // from "P4"
  EXPECT_EQ(at<std::string>(recipe, "train.amp"), "auto");
  EXPECT_EQ(at<double>(recipe, "train.ema_tau"), 100.0);
  EXPECT_EQ(at<std::string>(recipe, "train.loss.class_loss"), "varifocal");
  EXPECT_EQ(at<std::string>(recipe, "train.scheduler.type"), "cosine");
  EXPECT_EQ(at<double>(recipe, "train.scheduler.warmup_epochs"), 0.5);
  EXPECT_EQ(at<double>(recipe, "train.scheduler.min_factor"), 0.05);
  EXPECT_FALSE(recipe.at_path("train.batch"));  // absent in the args: rtseg's default stays
  EXPECT_FALSE(recipe.at_path("model.seg_head"));

  args["encoder"] = "dinov2_registers_windowed_small";
  args["use_varifocal_loss"] = false;
  const toml::table with_registers = recipe_of(args);
  EXPECT_EQ(at<std::string>(with_registers, "model.backbone.encoder"), "small");
  EXPECT_EQ(at<std::int64_t>(with_registers, "model.backbone.num_register_tokens"), 4);
  EXPECT_EQ(at<std::string>(with_registers, "train.loss.class_loss"), "focal");
}

TEST(RfdetrArgs, MissingOrMistypedKeysAreNamed) {
  for (const char* key :
       {"resolution", "hidden_dim", "encoder", "out_feature_indexes", "dec_layers", "two_stage"}) {
    Json args = base_args();
    args.erase(key);
    expect_config_error(args, std::string("'") + key + "' is missing");
  }
  Json args = base_args();
  args["resolution"] = "640";
  expect_config_error(args, "'resolution' must be an integer, not \"640\"");
  args = base_args();
  args["two_stage"] = 1;
  expect_config_error(args, "'two_stage' must be true or false");
  args = base_args();
  args["segmentation_head"] = true;
  expect_config_error(args, "'mask_downsample_ratio' is missing");
  args = base_args();
  args["dinov2"] = {{"hidden_size", "wide"}};
  expect_config_error(args, "'dinov2.hidden_size' must be an integer");
  expect_config_error(Json::array(), "expected a JSON object");
}

TEST(RfdetrArgs, ArchitecturesRtsegCannotBuildAreRefused) {
  Json args = base_args();
  args["encoder"] = "dinov2_base";
  expect_config_error(args, "'encoder' 'dinov2_base' is RF-DETR's non-windowed");
  args["encoder"] = "vit_tiny";
  expect_config_error(args, "'encoder' 'vit_tiny' is not a DINOv2 encoder name");
  args = base_args();
  args["layer_norm"] = false;
  expect_config_error(args, "'layer_norm' is false");
  args = base_args();
  args["lr_scheduler"] = "poly";
  expect_config_error(args, "'lr_scheduler' 'poly' has no rtseg equivalent");
  args = base_args();
  args["use_position_supervised_loss"] = true;
  expect_config_error(args, "'use_position_supervised_loss' is true");
}

// A checkpoint whose ViT is `width` wide with `layers` layers (only the tensors the recipe reads).
rfdetr::Checkpoint checkpoint_of(const Json& args, std::int64_t width, int layers) {
  rfdetr::Checkpoint checkpoint;
  checkpoint.path = "ckpt.pth";
  checkpoint.args = args;
  checkpoint.model["backbone.0.encoder.encoder.embeddings.cls_token"] = torch::zeros({1, 1, width});
  for (int layer = 0; layer < layers; ++layer) {
    const std::string prefix = "backbone.0.encoder.encoder.encoder.layer." + std::to_string(layer);
    checkpoint.model[prefix + ".norm1.weight"] = torch::zeros({width});
  }
  return checkpoint;
}

TEST(RfdetrArgs, CheckpointRecipesTakeTheViTShapeFromTheTensors) {
  // Preset-sized (DINOv2-B, 12 layers): nothing beyond the preset.
  const toml::table preset = toml::parse(recipe_from_rfdetr_checkpoint(checkpoint_of(base_args(), 768, 12)));
  EXPECT_EQ(at<std::string>(preset, "model.backbone.encoder"), "base");
  EXPECT_FALSE(preset.at_path("model.backbone.hidden_size"));
  EXPECT_FALSE(preset.at_path("model.backbone.num_heads"));
  // The preset's width with fewer layers keeps the preset's heads.
  const toml::table shallow = toml::parse(recipe_from_rfdetr_checkpoint(checkpoint_of(base_args(), 768, 6)));
  EXPECT_EQ(at<std::int64_t>(shallow, "model.backbone.hidden_size"), 768);
  EXPECT_EQ(at<std::int64_t>(shallow, "model.backbone.num_heads"), 12);
  EXPECT_EQ(at<std::int64_t>(shallow, "model.backbone.num_layers"), 6);
  // Another width: heads of DINOv2's width 64, said in the recipe.
  const std::string text = recipe_from_rfdetr_checkpoint(checkpoint_of(base_args(), 192, 4));
  const toml::table narrow = toml::parse(text);
  EXPECT_EQ(at<std::int64_t>(narrow, "model.backbone.hidden_size"), 192);
  EXPECT_EQ(at<std::int64_t>(narrow, "model.backbone.num_heads"), 3);
  EXPECT_EQ(at<std::int64_t>(narrow, "model.backbone.num_layers"), 4);
  EXPECT_THAT(text, HasSubstr("# The checkpoint does not record the ViT's heads"));
}

TEST(RfdetrArgs, CheckpointRecipeErrorsNameTheFile) {
  const auto error_of = [](const rfdetr::Checkpoint& checkpoint) -> std::string {
    try {
      recipe_from_rfdetr_checkpoint(checkpoint);
    } catch (const sdk::ConfigError& error) {
      return error.what();
    }
    return "no error";
  };
  EXPECT_THAT(error_of(checkpoint_of(Json(), 768, 12)), HasSubstr("ckpt.pth: has no 'args'"));
  rfdetr::Checkpoint no_vit = checkpoint_of(base_args(), 768, 12);
  no_vit.model.clear();
  EXPECT_THAT(error_of(no_vit),
              HasSubstr("ckpt.pth: its model has no backbone.0.encoder.encoder.embeddings.cls_token"));
  Json args = base_args();
  args.erase("hidden_dim");
  EXPECT_THAT(error_of(checkpoint_of(args, 768, 12)), HasSubstr("ckpt.pth: RF-DETR args: 'hidden_dim' is missing"));
}

TEST(RfdetrArgs, FixtureCheckpointGivesTheTinyModelsRecipe) {
  const fs::path file = fs::path(RTSEG_RFDETR_FIXTURES) / "checkpoints" / "pretrained.pth";
  if (!fs::exists(file)) GTEST_SKIP() << "RF-DETR fixtures not found at " << RTSEG_RFDETR_FIXTURES;
  const toml::table recipe = toml::parse(recipe_from_rfdetr_checkpoint(rfdetr::read_checkpoint(file)));
  EXPECT_EQ(at<std::int64_t>(recipe, "model.num_classes"), 90);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.hidden_dim"), 64);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.hidden_size"), 64);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_layers"), 4);
  EXPECT_EQ(at<std::int64_t>(recipe, "model.backbone.num_heads"), 1);  // assumed: RF-DETR's args do not say
  EXPECT_EQ(at<std::string>(recipe, "model.seg_head.type"), "rfdetr_mask");
}

}  // namespace
}  // namespace rtseg::framework
