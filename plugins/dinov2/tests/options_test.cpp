// Reading and validating the dinov2 recipe section, the factory's checks, and the optimizer hints.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dinov2_backbone.h"
#include "dinov2_test_support.h"
#include "options.h"
#include "options_test_support.h"
#include "parameter_rules.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::dinov2 {
namespace {

using ::testing::HasSubstr;

Dinov2Options read(const std::string& toml) {
  return rtseg::testing::read_section(toml, "model.backbone", "backbone 'dinov2'", &dinov2_options_from,
                                      "backbone.toml");
}

std::string error_of(const std::string& toml) {
  return rtseg::testing::config_error_of([&] { read(toml); });
}

TEST(Dinov2Options, DefaultsAreRfDetrNano) {
  const Dinov2Options options = read("");
  const VitConfig vit = vit_config_from(options);
  EXPECT_EQ(vit.hidden_size, 384);
  EXPECT_EQ(vit.num_heads, 6);
  EXPECT_EQ(vit.num_layers, 12);
  EXPECT_EQ(vit.patch_size, 16);
  EXPECT_EQ(vit.num_windows, 2);
  EXPECT_EQ(vit.positional_encoding_size, 24);
  EXPECT_EQ(vit.num_register_tokens, 0);
  EXPECT_EQ(vit.out_feature_indexes, (std::vector<std::int64_t>{3, 6, 9, 12}));
  EXPECT_EQ(options.projector_scale, (std::vector<std::string>{"P4"}));
  EXPECT_EQ(options.projector_blocks, 3);
  EXPECT_DOUBLE_EQ(vit.layer_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(vit.layer_scale_init, 1.0);
  EXPECT_EQ(vit.mlp_ratio, 4);
  EXPECT_FALSE(options.freeze);
  EXPECT_TRUE(options.pretrained.empty());
}

TEST(Dinov2Options, PresetsAndOverrides) {
  const Dinov2Options base = read(
      "encoder = \"base\"\npatch_size = 14\nnum_windows = 4\npositional_encoding_size = 37\n"
      "out_feature_indexes = [2, 5, 8, 11]\nprojector_scale = [\"P3\", \"P5\"]\n");
  const VitConfig base_vit = vit_config_from(base);
  EXPECT_EQ(base_vit.hidden_size, 768);
  EXPECT_EQ(base_vit.num_heads, 12);
  EXPECT_EQ(base_vit.num_layers, 12);
  EXPECT_EQ(base_vit.num_windows, 4);
  const VitConfig large = vit_config_from(read("encoder = \"large\"\n"));
  EXPECT_EQ(large.hidden_size, 1024);
  EXPECT_EQ(large.num_heads, 16);
  EXPECT_EQ(large.num_layers, 24);
  const VitConfig tiny = vit_config_from(
      read("hidden_size = 64\nnum_heads = 2\nnum_layers = 4\nout_feature_indexes = [1, 2, 3, 4]\n"
           "num_register_tokens = 2\ndrop_path = 0.1\n"));
  EXPECT_EQ(tiny.hidden_size, 64);
  EXPECT_EQ(tiny.num_heads, 2);
  EXPECT_EQ(tiny.num_layers, 4);
  EXPECT_EQ(tiny.num_register_tokens, 2);
  EXPECT_DOUBLE_EQ(tiny.drop_path, 0.1);
}

TEST(Dinov2Options, BadValuesNameTheKey) {
  struct Case {
    std::string toml, key, problem;
  };
  const std::vector<Case> cases = {
      {"out_feature_indexes = [3, 2]", "out_feature_indexes",
       "strictly ascending (got 3 before 2)"},
      {"out_feature_indexes = [3, 13]", "out_feature_indexes", "stage 13 does not exist"},
      {"out_feature_indexes = [0, 3]", "out_feature_indexes", "stage 0 does not exist"},
      {"out_feature_indexes = []", "out_feature_indexes", "at least one stage"},
      {"projector_scale = [\"P5\", \"P4\"]", "projector_scale", "ascending"},
      {"projector_scale = [\"P4\", \"P4\"]", "projector_scale", "without repeats"},
      {"projector_scale = [\"P7\"]", "projector_scale", "unknown level 'P7'"},
      {"projector_scale = [\"P6\"]", "projector_scale", "needs P3, P4 or P5 before it"},
      {"hidden_size = 100", "hidden_size", "not divisible by 6 heads"},
      {"num_heads = 5", "num_heads", "384 is not divisible by 5 heads"},
      {"encoder = \"huge\"", "encoder", "huge"},
      {"patch_size = 0", "patch_size", "must be positive"},
      {"num_windows = 0", "num_windows", "at least 1"},
      {"positional_encoding_size = 0", "positional_encoding_size", "must be positive"},
      {"num_register_tokens = -1", "num_register_tokens", "must not be negative"},
      {"projector_blocks = -1", "projector_blocks", "must not be negative"},
      {"drop_path = 1.0", "drop_path", "[0, 1)"},
      {"num_layers = 4", "out_feature_indexes", "stage 6 does not exist: stages are 1..4"},
      {"hidden_size = -8", "hidden_size", "0 (preset) or positive"},
  };
  for (const Case& c : cases) {
    const std::string message = error_of(c.toml);
    EXPECT_THAT(message, HasSubstr("model.backbone." + c.key)) << c.toml;
    EXPECT_THAT(message, HasSubstr(c.problem)) << c.toml;
  }
  EXPECT_THAT(error_of("windows = 2"), HasSubstr("model.backbone.windows"));  // unknown key
}

TEST(Dinov2Options, DescribingDocumentsEveryKey) {
  sdk::ConfigReader reader = sdk::ConfigReader::describing("model.backbone", "backbone 'dinov2'");
  dinov2_options_from(reader);
  std::vector<std::string> keys;
  for (const auto& doc : reader.docs()) {
    keys.push_back(doc.key);
    EXPECT_FALSE(doc.doc.empty()) << doc.key;
  }
  for (const char* key :
       {"encoder", "hidden_size", "num_heads", "num_layers", "patch_size", "num_windows",
        "positional_encoding_size", "num_register_tokens", "out_feature_indexes", "projector_scale",
        "projector_blocks", "drop_path", "freeze", "pretrained"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
}

TEST(Dinov2Factory, NeedsAPositiveHiddenDim) {
  try {
    make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(0));
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("model.hidden_dim must be positive"));
  }
}

TEST(Dinov2Hints, FollowRfDetrRules) {
  // Nano taps [3, 6, 9, 12]: RF-DETR's num_layers = 13, the final norm gets layer id 14.
  const auto hint = [](const std::string& name) { return dinov2_parameter_hint(name, 13); };
  const struct {
    std::string name;
    int layer_id;
    bool no_weight_decay;
  } expected[] = {
      {"encoder.encoder.embeddings.cls_token", 0, true},
      {"encoder.encoder.embeddings.patch_embeddings.projection.weight", 0, true},
      {"encoder.encoder.embeddings.position_embeddings", 0, true},
      {"encoder.encoder.encoder.layer.0.norm1.weight", 1, true},
      {"encoder.encoder.encoder.layer.2.mlp.fc1.weight", 3, false},
      {"encoder.encoder.encoder.layer.2.mlp.fc1.bias", 3, true},
      {"encoder.encoder.encoder.layer.11.attention.attention.query.weight", 12, false},
      {"encoder.encoder.encoder.layer.5.layer_scale1.lambda1", 6, false},
      {"encoder.encoder.layernorm.weight", 14, true},
      {"projector.stages.0.0.cv1.conv.weight", -1, false},
      {"projector.stages.0.1.bias", -1, false},
  };
  for (const auto& e : expected) {
    const sdk::ParameterHint h = hint(e.name);
    EXPECT_EQ(h.layer_id, e.layer_id) << e.name;
    EXPECT_EQ(h.no_weight_decay, e.no_weight_decay) << e.name;
    EXPECT_EQ(h.num_layers, 13) << e.name;
  }
}

TEST(Dinov2Hints, CoverEveryParameterOfTheBackbone) {
  const auto backbone = make_dinov2(testing::tiny_options(), testing::context_with_hidden_dim(16));
  const auto hints = backbone->parameter_hints();
  const auto parameters = backbone->named_parameters();
  EXPECT_EQ(hints.size(), parameters.size());
  for (const auto& parameter : parameters) {
    ASSERT_EQ(hints.count(parameter.key()), 1u) << parameter.key();
    EXPECT_EQ(hints.at(parameter.key()).num_layers, 4);  // taps [1, 2, 3]
  }
  EXPECT_EQ(hints.at("encoder.encoder.encoder.layer.2.norm2.weight").layer_id, 3);
  EXPECT_EQ(hints.at("encoder.encoder.layernorm.bias").layer_id, 5);
}

}  // namespace
}  // namespace rtseg::plugins::dinov2
