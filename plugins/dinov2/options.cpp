#include "options.h"

#include <algorithm>
#include <map>

namespace rtseg::plugins::dinov2 {

namespace {

struct EncoderPreset {
  std::int64_t hidden_size;
  std::int64_t num_heads;
  std::int64_t num_layers;
};

// RF-DETR's dinov2_configs/*.json (the Hugging Face DINOv2 sizes).
const std::map<std::string, EncoderPreset>& presets() {
  static const std::map<std::string, EncoderPreset> table = {
      {"small", {384, 6, 12}}, {"base", {768, 12, 12}}, {"large", {1024, 16, 24}}};
  return table;
}

const std::vector<std::string> kScaleOrder = {"P3", "P4", "P5", "P6"};

std::int64_t scale_rank(const std::string& scale) {
  const auto found = std::find(kScaleOrder.begin(), kScaleOrder.end(), scale);
  return found == kScaleOrder.end() ? -1 : static_cast<std::int64_t>(found - kScaleOrder.begin());
}

void check_out_features(sdk::ConfigReader& reader, const std::vector<std::int64_t>& indexes,
                        std::int64_t num_layers) {
  const char* key = "out_feature_indexes";
  reader.check(!indexes.empty(), key, "must name at least one stage.");
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    reader.check(indexes[i] >= 1 && indexes[i] <= num_layers, key,
                 "stage " + std::to_string(indexes[i]) + " does not exist: stages are 1.." +
                     std::to_string(num_layers) + " (stage k is the output of layer k).");
    if (i > 0) {
      reader.check(indexes[i] > indexes[i - 1], key,
                   "must be strictly ascending (got " + std::to_string(indexes[i - 1]) +
                       " before " + std::to_string(indexes[i]) + ").");
    }
  }
}

void check_projector_scale(sdk::ConfigReader& reader, const std::vector<std::string>& scales) {
  const char* key = "projector_scale";
  reader.check(!scales.empty(), key, "must name at least one level (P3, P4, P5, P6).");
  std::int64_t previous = -1;
  for (const std::string& scale : scales) {
    const std::int64_t rank = scale_rank(scale);
    reader.check(rank >= 0, key, "unknown level '" + scale + "'; use P3, P4, P5 or P6.");
    reader.check(rank > previous, key,
                 "levels must be ascending without repeats (P3, P4, P5, P6 order).");
    previous = rank;
  }
  reader.check(!(scales.size() == 1 && scales.front() == "P6"), key,
               "P6 is a pooled copy of the last level; it needs P3, P4 or P5 before it.");
}

}  // namespace

bool VitConfig::is_full_attention(std::int64_t layer) const {
  const std::int64_t last = out_feature_indexes.back();
  if (layer > last) return true;
  return std::find(out_feature_indexes.begin(), out_feature_indexes.end(), layer) !=
         out_feature_indexes.end();
}

Dinov2Options dinov2_options_from(sdk::ConfigReader& reader) {
  Dinov2Options o;
  std::vector<std::string> preset_names;
  for (const auto& entry : presets()) preset_names.push_back(entry.first);
  o.encoder = reader.choice("encoder", o.encoder, preset_names,
                            "DINOv2 size: small (384 wide, 6 heads, 12 layers), base (768/12/12), "
                            "large (1024/16/24)");
  o.hidden_size =
      reader.get("hidden_size", o.hidden_size, "ViT width; 0 = from the encoder preset");
  o.num_heads =
      reader.get("num_heads", o.num_heads, "attention heads; 0 = from the encoder preset");
  o.num_layers = reader.get("num_layers", o.num_layers,
                            "transformer layers (weights exist for all); 0 = from the preset");
  o.patch_size = reader.get("patch_size", o.patch_size, "pixels per patch side");
  o.num_windows = reader.get("num_windows", o.num_windows,
                             "windows per image side for windowed attention (1 = none)");
  o.positional_encoding_size =
      reader.get("positional_encoding_size", o.positional_encoding_size,
                 "side S of the learned position grid (S*S+1 rows); resized for other inputs");
  o.num_register_tokens = reader.get("num_register_tokens", o.num_register_tokens,
                                     "register tokens after the CLS token (DINOv2 with registers)");
  o.out_feature_indexes =
      reader.get("out_feature_indexes", o.out_feature_indexes,
                 "stages fed to the projector, ascending (stage k = output of layer k); the "
                 "last one is the deepest layer that runs");
  o.projector_scale = reader.get("projector_scale", o.projector_scale,
                                 "projector levels, ascending subset of P3, P4, P5, P6 (P6 = "
                                 "stride-2 pooling of the previous level)");
  o.projector_blocks = reader.get("projector_blocks", o.projector_blocks,
                                  "bottleneck blocks per C2f projector stage");
  o.drop_path = reader.get("drop_path", o.drop_path,
                           "stochastic depth rate of every ViT layer (RF-DETR uses 0)");
  o.recompute = sdk::recompute_policy_from(reader, "each ViT layer's MLP activations (norm2, fc1, GELU, fc2)");
  o.freeze = reader.get("freeze", o.freeze, "freeze the ViT encoder (the projector still trains)");
  o.pretrained = reader.get("pretrained", o.pretrained.c_str(),
                            "Hugging Face DINOv2 model.safetensors to initialise the ViT from "
                            "(relative to the recipe); empty = random init");

  reader.check(o.hidden_size >= 0, "hidden_size", "must be 0 (preset) or positive.");
  reader.check(o.num_heads >= 0, "num_heads", "must be 0 (preset) or positive.");
  reader.check(o.num_layers >= 0, "num_layers", "must be 0 (preset) or positive.");
  reader.check(o.patch_size >= 1, "patch_size", "must be positive.");
  reader.check(o.num_windows >= 1, "num_windows", "must be at least 1.");
  reader.check(o.positional_encoding_size >= 1, "positional_encoding_size", "must be positive.");
  reader.check(o.num_register_tokens >= 0, "num_register_tokens", "must not be negative.");
  reader.check(o.projector_blocks >= 0, "projector_blocks", "must not be negative.");
  reader.check(o.drop_path >= 0.0 && o.drop_path < 1.0, "drop_path", "must be in [0, 1).");
  check_projector_scale(reader, o.projector_scale);
  if (reader.describing()) return o;

  const VitConfig vit = vit_config_from(o);
  reader.check(vit.hidden_size % vit.num_heads == 0, o.hidden_size ? "hidden_size" : "num_heads",
               "the width " + std::to_string(vit.hidden_size) + " is not divisible by " +
                   std::to_string(vit.num_heads) + " heads.");
  check_out_features(reader, o.out_feature_indexes, vit.num_layers);
  return o;
}

VitConfig vit_config_from(const Dinov2Options& options) {
  const auto found = presets().find(options.encoder);
  const EncoderPreset preset = found != presets().end() ? found->second : presets().at("small");
  VitConfig vit;
  vit.hidden_size = options.hidden_size > 0 ? options.hidden_size : preset.hidden_size;
  vit.num_heads = options.num_heads > 0 ? options.num_heads : preset.num_heads;
  vit.num_layers = options.num_layers > 0 ? options.num_layers : preset.num_layers;
  vit.patch_size = options.patch_size;
  vit.num_windows = options.num_windows;
  vit.positional_encoding_size = options.positional_encoding_size;
  vit.num_register_tokens = options.num_register_tokens;
  vit.out_feature_indexes = options.out_feature_indexes;
  vit.drop_path = options.drop_path;
  vit.recompute_mlp = options.recompute;
  return vit;
}

}  // namespace rtseg::plugins::dinov2
