// Importing Hugging Face DINOv2 weights (model.safetensors with embeddings.*, encoder.layer.N.*,
// layernorm.*) into the ViT, through the `pretrained` option.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dinov2_backbone.h"
#include "dinov2_test_support.h"
#include "embeddings.h"
#include "hf_import.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "test_support.h"

namespace rtseg::plugins::dinov2 {
namespace {

using ::testing::HasSubstr;
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// A Hugging Face-style checkpoint of a ViT like tiny_options() but with a 6 x 6 position grid
// and one more layer than ours (as a "small" file is for a model that runs fewer layers).
NamedTensors hf_checkpoint() {
  Dinov2Options options = testing::tiny_options();
  options.positional_encoding_size = 6;
  options.num_layers = 4;
  torch::manual_seed(21);
  WindowedVit source(vit_config_from(options));
  NamedTensors tensors;
  for (const auto& p : source.named_parameters()) {
    tensors.emplace_back(p.key(), p.value().detach() + 0.01 * torch::randn_like(p.value()));
  }
  return tensors;
}

std::string import_error(const NamedTensors& tensors) {
  rtseg::testing::TempDir dir;
  sdk::save_safetensors(dir / "model.safetensors", tensors);
  WindowedVit vit(vit_config_from(testing::tiny_options()));
  try {
    import_hf_dinov2(vit, dir / "model.safetensors", nullptr);
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Dinov2HfImport, CopiesByNameAndResizesThePositionTable) {
  const NamedTensors tensors = hf_checkpoint();
  rtseg::testing::TempDir dir;
  std::filesystem::create_directories(dir / "weights");
  sdk::save_safetensors(dir / "weights" / "model.safetensors", tensors);

  Dinov2Options options = testing::tiny_options();
  options.pretrained = "weights/model.safetensors";  // relative to the recipe folder
  sdk::BuildContext context = testing::context_with_hidden_dim(16);
  context.recipe_dir = dir.path();
  const auto backbone = make_dinov2(options, context);

  std::size_t checked = 0;
  for (const auto& [name, stored] : tensors) {
    if (name.rfind("encoder.layer.3.", 0) == 0) continue;  // the file's extra layer
    const torch::Tensor ours = backbone->named_parameters()["encoder.encoder." + name];
    const torch::Tensor expected =
        name == "embeddings.position_embeddings" ? resize_position_table(stored, 4, 4) : stored;
    EXPECT_TRUE(torch::equal(ours, expected)) << name;
    ++checked;
  }
  EXPECT_EQ(checked, backbone->vit().named_parameters().size());
  EXPECT_EQ(backbone->vit().embeddings().position_embeddings().size(1), 17);
}

TEST(Dinov2HfImport, MissingTensorIsNamed) {
  NamedTensors tensors = hf_checkpoint();
  tensors.erase(
      std::remove_if(tensors.begin(), tensors.end(),
                     [](const auto& t) { return t.first == "encoder.layer.1.mlp.fc2.bias"; }),
      tensors.end());
  const std::string message = import_error(tensors);
  EXPECT_THAT(message, HasSubstr("model.safetensors"));
  EXPECT_THAT(message, HasSubstr("it has no tensor 'encoder.layer.1.mlp.fc2.bias'"));
}

TEST(Dinov2HfImport, ShapeMismatchIsNamed) {
  NamedTensors tensors = hf_checkpoint();
  for (auto& [name, tensor] : tensors) {
    if (name == "embeddings.patch_embeddings.projection.weight")
      tensor = torch::zeros({32, 3, 14, 14});
  }
  const std::string message = import_error(tensors);
  EXPECT_THAT(message, HasSubstr("tensor 'embeddings.patch_embeddings.projection.weight' has shape "
                                 "[32, 3, 14, 14], expected [32, 3, 8, 8]"));

  tensors = hf_checkpoint();
  for (auto& [name, tensor] : tensors) {
    if (name == "embeddings.position_embeddings") tensor = torch::zeros({1, 20, 32});
  }
  EXPECT_THAT(import_error(tensors),
              HasSubstr("'embeddings.position_embeddings' has shape [1, 20, 32], "
                        "expected [1, 1 + S*S, 32]"));
}

TEST(Dinov2HfImport, MissingFileIsADataError) {
  Dinov2Options options = testing::tiny_options();
  options.pretrained = "/nonexistent/dinov2/model.safetensors";
  EXPECT_THROW(make_dinov2(options, testing::context_with_hidden_dim(16)), sdk::DataError);
}

}  // namespace
}  // namespace rtseg::plugins::dinov2
