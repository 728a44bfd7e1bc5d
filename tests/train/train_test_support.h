// A tiny detector/segmenter on a tiny synthetic dataset, for trainer tests that take seconds.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"

namespace rtseg::testing {

/// A recipe with the shipped plugins: a 2-layer ViT at 64 px, a 1-layer decoder with 2 groups,
/// synthetic shapes (8 train, 4 valid images). `extra` is appended (more sections or stages).
inline std::string tiny_recipe(const std::filesystem::path& runs, const std::string& extra = "",
                               bool masks = false) {
  std::string text = R"(
[data]
type = "synthetic_shapes"
train_images = 8
valid_images = 4
min_size = 64
max_size = 96
seed = 1

[model]
size = "test"
resolution = 64
hidden_dim = 32
num_queries = 10
num_select = 10

[model.backbone]
type = "dinov2"
encoder = "small"
hidden_size = 32
num_heads = 2
num_layers = 2
patch_size = 8
num_windows = 1
positional_encoding_size = 8
out_feature_indexes = [1, 2]
projector_scale = ["P4"]

[model.decoder]
type = "lwdetr"
dec_layers = 1
sa_nheads = 2
ca_nheads = 2
dec_n_points = 2
dim_feedforward = 64
group_detr = 2
two_stage = true
bbox_reparam = true
lite_refpoint_refine = true
)";
  if (masks) text += "\n[model.seg_head]\ntype = \"rfdetr_mask\"\n";
  text += R"(
[train]
batch = 2
accum = 1
epochs = 2
lr = 1e-3
lr_encoder = 1e-3
multi_scale = false
workers = 0
ema = true
tensorboard = true
device = "cpu"
threads = 1
output_dir = ")" + runs.string() + "\"\n" + extra;
  return text;
}

inline framework::LoadedRecipe loaded(const std::string& text) {
  framework::LoadedRecipe recipe;
  recipe.document = framework::RecipeDocument::parse_text(text, "test.toml");
  return recipe;
}

/// A runtime with the plugins built with the tests (build/lib/rtseg/plugins), not the user's.
inline std::unique_ptr<framework::Runtime> make_test_runtime() {
  framework::RuntimeOptions options;
  options.load_default_plugins = false;
  options.plugin_paths = {std::filesystem::path(RTSEG_BINARY_DIR) / "lib" / "rtseg" / "plugins"};
  return std::make_unique<framework::Runtime>(std::move(options));
}

}  // namespace rtseg::testing
