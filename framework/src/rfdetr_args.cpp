#include "rtseg/framework/rfdetr_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "rtseg/framework/rfdetr/checkpoint.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

using Json = nlohmann::json;

// Typed reads of RF-DETR's argument namespace; every error names the key.
class Args {
 public:
  Args(const Json& json, std::string prefix) : json_(json), prefix_(std::move(prefix)) {}

  bool has(const char* key) const {
    const auto found = json_.find(key);
    return found != json_.end() && !found->is_null();
  }

  std::int64_t integer(const char* key) const { return to_integer(key, at(key)); }

  double number(const char* key) const {
    const Json& value = at(key);
    if (!value.is_number()) fail(key, "must be a number, not " + value.dump() + ".");
    return value.get<double>();
  }

  bool flag(const char* key) const {
    const Json& value = at(key);
    if (!value.is_boolean()) fail(key, "must be true or false, not " + value.dump() + ".");
    return value.get<bool>();
  }

  std::string text(const char* key) const {
    const Json& value = at(key);
    if (!value.is_string()) fail(key, "must be a string, not " + value.dump() + ".");
    return value.get<std::string>();
  }

  std::vector<std::int64_t> integers(const char* key) const {
    const Json& value = at(key);
    if (!value.is_array() || value.empty()) fail(key, "must be a list of integers.");
    std::vector<std::int64_t> result;
    for (const Json& item : value) result.push_back(to_integer(key, item));
    return result;
  }

  /// A list of strings; a single string counts as a list of one (RF-DETR accepts both).
  std::vector<std::string> texts(const char* key) const {
    const Json& value = at(key);
    if (value.is_string()) return {value.get<std::string>()};
    std::vector<std::string> result;
    if (value.is_array()) {
      for (const Json& item : value) {
        if (!item.is_string()) break;
        result.push_back(item.get<std::string>());
      }
    }
    if (result.empty() || result.size() != value.size()) fail(key, "must be a list of strings.");
    return result;
  }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw sdk::ConfigError("RF-DETR args: '" + prefix_ + key + "' " + what);
  }

 private:
  const Json& at(const char* key) const {
    if (!has(key)) fail(key, "is missing; it is needed to build the recipe.");
    return json_.at(key);
  }

  std::int64_t to_integer(const char* key, const Json& value) const {
    if (value.is_number_integer()) return value.get<std::int64_t>();
    if (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>()) {
      return static_cast<std::int64_t>(value.get<double>());
    }
    fail(key, "must be an integer, not " + value.dump() + ".");
  }

  const Json& json_;
  std::string prefix_;
};

// Appends TOML lines in a readable order (TOML++'s own printer sorts keys).
class TomlWriter {
 public:
  void line(const std::string& text) { text_ += text + "\n"; }
  void table(const std::string& name) { text_ += "\n[" + name + "]\n"; }
  void integer(const char* key, std::int64_t value) { set(key, std::to_string(value)); }
  void number(const char* key, double value) { set(key, float_text(value)); }
  void flag(const char* key, bool value) { set(key, value ? "true" : "false"); }
  void text(const char* key, const std::string& value) { set(key, quoted(value)); }
  void integers(const char* key, const std::vector<std::int64_t>& values) {
    std::string list;
    for (std::int64_t v : values) list += (list.empty() ? "" : ", ") + std::to_string(v);
    set(key, "[" + list + "]");
  }
  void texts(const char* key, const std::vector<std::string>& values) {
    std::string list;
    for (const auto& v : values) list += (list.empty() ? "" : ", ") + quoted(v);
    set(key, "[" + list + "]");
  }
  const std::string& str() const { return text_; }

  static std::string quoted(const std::string& value) {
    std::string out = "\"";
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char escape[8];
        std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
        out += escape;
      } else {
        out += c;
      }
    }
    return out + "\"";
  }

 private:
  void set(const char* key, const std::string& value) {
    text_ += std::string(key) + " = " + value + "\n";
  }

  // Shortest text that reads back as the same double, always a TOML float ("5.0", "1e-05").
  static std::string float_text(double value) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    std::string text(buffer, result.ptr);
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // n: inf, nan
    return text;
  }

  std::string text_;
};

struct VitShape {
  std::int64_t hidden_size, num_heads, num_layers;
};

// The DINOv2 configurations RF-DETR ships (dinov2_configs/*.json).
std::optional<VitShape> vit_preset(const std::string& size) {
  if (size == "small") return VitShape{384, 6, 12};
  if (size == "base") return VitShape{768, 12, 12};
  if (size == "large") return VitShape{1024, 16, 24};
  return std::nullopt;
}

void write_model(const Args& args, const Json& json, TomlWriter& out) {
  out.table("model");
  out.integer("resolution", args.integer("resolution"));
  out.integer("num_classes", args.integer("num_classes"));
  out.integer("num_queries", args.integer("num_queries"));
  out.integer("num_select", args.integer("num_select"));
  out.integer("hidden_dim", args.integer("hidden_dim"));

  // RF-DETR's names: dinov2[_registers][_windowed]_<size>, parts in any order.
  const std::string encoder = args.text("encoder");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = encoder.find('_', start);
    parts.push_back(encoder.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  bool registers = false;
  bool windowed = false;
  std::vector<std::string> rest;
  for (const auto& part : parts) {
    if (part == "registers")
      registers = true;
    else if (part == "windowed")
      windowed = true;
    else
      rest.push_back(part);
  }
  if (rest.size() != 2 || rest[0] != "dinov2" || !vit_preset(rest[1])) {
    args.fail("encoder", "'" + encoder +
                             "' is not a DINOv2 encoder name (dinov2[_registers]_windowed_"
                             "{small,base,large}).");
  }
  if (!windowed) {
    args.fail("encoder", "'" + encoder +
                             "' is RF-DETR's non-windowed Hugging Face backbone; rtseg's "
                             "dinov2 backbone is the windowed one (dinov2_windowed_*).");
  }
  if (args.has("layer_norm") && !args.flag("layer_norm")) {
    args.fail("layer_norm", "is false (BatchNorm projector); rtseg's projector uses LayerNorm.");
  }
  if (args.has("rms_norm") && args.flag("rms_norm")) {
    args.fail("rms_norm", "is true; rtseg's projector uses LayerNorm.");
  }
  out.table("model.backbone");
  out.text("type", "dinov2");
  out.text("encoder", rest[1]);
  out.integer("num_register_tokens", registers ? 4 : 0);
  out.integer("patch_size", args.integer("patch_size"));
  out.integer("num_windows", args.integer("num_windows"));
  out.integer("positional_encoding_size", args.integer("positional_encoding_size"));
  out.integers("out_feature_indexes", args.integers("out_feature_indexes"));
  out.texts("projector_scale", args.texts("projector_scale"));
  if (args.has("drop_path")) out.number("drop_path", args.number("drop_path"));
  if (args.has("freeze_encoder")) out.flag("freeze", args.flag("freeze_encoder"));
  // Test models shrink the ViT; their config.json carries the effective DINOv2 config.
  const auto dinov2 = json.find("dinov2");
  if (dinov2 != json.end() && dinov2->is_object()) {
    const Args vit(*dinov2, "dinov2.");
    const VitShape preset = *vit_preset(rest[1]);
    const VitShape actual{
        vit.has("hidden_size") ? vit.integer("hidden_size") : preset.hidden_size,
        vit.has("num_attention_heads") ? vit.integer("num_attention_heads") : preset.num_heads,
        vit.has("num_hidden_layers") ? vit.integer("num_hidden_layers") : preset.num_layers};
    if (actual.hidden_size != preset.hidden_size || actual.num_heads != preset.num_heads ||
        actual.num_layers != preset.num_layers) {
      out.integer("hidden_size", actual.hidden_size);
      out.integer("num_heads", actual.num_heads);
      out.integer("num_layers", actual.num_layers);
    }
  }

  out.table("model.decoder");
  out.text("type", "lwdetr");
  for (const char* key :
       {"dec_layers", "sa_nheads", "ca_nheads", "dec_n_points", "dim_feedforward", "group_detr"}) {
    out.integer(key, args.integer(key));
  }
  for (const char* key : {"two_stage", "bbox_reparam", "lite_refpoint_refine"}) {
    out.flag(key, args.flag(key));
  }
  if (args.has("dropout")) out.number("dropout", args.number("dropout"));
  if (args.has("decoder_norm")) out.text("decoder_norm", args.text("decoder_norm"));

  if (args.has("segmentation_head") && args.flag("segmentation_head")) {
    out.table("model.seg_head");
    out.text("type", "rfdetr_mask");
    out.integer("downsample_ratio", args.integer("mask_downsample_ratio"));
  }
}

// Copies `from` to `to` when RF-DETR's args have it (absent: the rtseg default stays).
void copy_number(const Args& args, TomlWriter& out, const char* to, const char* from) {
  if (args.has(from)) out.number(to, args.number(from));
}
void copy_integer(const Args& args, TomlWriter& out, const char* to, const char* from) {
  if (args.has(from)) out.integer(to, args.integer(from));
}
void copy_flag(const Args& args, TomlWriter& out, const char* to, const char* from) {
  if (args.has(from)) out.flag(to, args.flag(from));
}

void write_train(const Args& args, TomlWriter& out) {
  out.table("train");
  copy_integer(args, out, "batch", "batch_size");
  copy_integer(args, out, "accum", "grad_accum_steps");
  copy_integer(args, out, "epochs", "epochs");
  copy_number(args, out, "lr", "lr");
  copy_number(args, out, "lr_encoder", "lr_encoder");
  copy_number(args, out, "lr_vit_layer_decay", "lr_vit_layer_decay");
  copy_number(args, out, "lr_component_decay", "lr_component_decay");
  copy_number(args, out, "weight_decay", "weight_decay");
  copy_number(args, out, "clip_max_norm", "clip_max_norm");
  copy_flag(args, out, "multi_scale", "multi_scale");
  copy_flag(args, out, "expanded_scales", "expanded_scales");
  copy_integer(args, out, "workers", "num_workers");
  if (args.has("amp")) out.text("amp", args.flag("amp") ? "auto" : "off");
  copy_flag(args, out, "gradient_checkpointing", "gradient_checkpointing");
  copy_flag(args, out, "ema", "use_ema");
  copy_number(args, out, "ema_decay", "ema_decay");
  copy_number(args, out, "ema_tau", "ema_tau");  // 0 in both: no warm-up
  copy_flag(args, out, "early_stopping", "early_stopping");
  copy_integer(args, out, "early_stopping_patience", "early_stopping_patience");
  copy_number(args, out, "early_stopping_min_delta", "early_stopping_min_delta");
  copy_integer(args, out, "checkpoint_interval", "checkpoint_interval");
  copy_integer(args, out, "seed", "seed");

  out.table("train.loss");
  const bool ia_bce = args.has("ia_bce_loss") && args.flag("ia_bce_loss");
  const bool position_supervised =
      args.has("use_position_supervised_loss") && args.flag("use_position_supervised_loss");
  const bool varifocal = args.has("use_varifocal_loss") && args.flag("use_varifocal_loss");
  if (!ia_bce && position_supervised) {  // RF-DETR's order of precedence: ia_bce, this, varifocal
    args.fail("use_position_supervised_loss", "is true; rtseg has no position-supervised loss.");
  }
  out.text("class_loss", ia_bce ? "ia_bce" : varifocal ? "varifocal" : "focal");
  copy_number(args, out, "focal_alpha", "focal_alpha");
  copy_number(args, out, "class_weight", "cls_loss_coef");
  copy_number(args, out, "bbox_weight", "bbox_loss_coef");
  copy_number(args, out, "giou_weight", "giou_loss_coef");
  copy_number(args, out, "mask_ce_weight", "mask_ce_loss_coef");
  copy_number(args, out, "mask_dice_weight", "mask_dice_loss_coef");
  copy_integer(args, out, "mask_point_sample_ratio", "mask_point_sample_ratio");
  copy_flag(args, out, "aux_loss", "aux_loss");

  out.table("train.matcher");
  copy_number(args, out, "class_cost", "set_cost_class");
  copy_number(args, out, "bbox_cost", "set_cost_bbox");
  copy_number(args, out, "giou_cost", "set_cost_giou");
  // RF-DETR's matcher reuses the mask loss weights as its mask costs.
  copy_number(args, out, "mask_ce_cost", "mask_ce_loss_coef");
  copy_number(args, out, "mask_dice_cost", "mask_dice_loss_coef");

  if (!args.has("lr_scheduler")) return;
  const std::string scheduler = args.text("lr_scheduler");
  out.table("train.scheduler");
  if (scheduler == "step") {
    // RF-DETR's step schedule: x0.1 from epoch lr_drop on.
    out.text("type", "step");
    copy_number(args, out, "warmup_epochs", "warmup_epochs");
    if (args.has("lr_drop")) out.integers("drop_epochs", {args.integer("lr_drop")});
    out.number("gamma", 0.1);
  } else if (scheduler == "cosine") {
    out.text("type", "cosine");
    copy_number(args, out, "warmup_epochs", "warmup_epochs");
    copy_number(args, out, "min_factor", "lr_min_factor");
  } else {
    args.fail("lr_scheduler", "'" + scheduler + "' has no rtseg equivalent (step, cosine).");
  }
}

// RF-DETR's state-dict names of the windowed DINOv2 ViT.
constexpr const char* kClassToken = "backbone.0.encoder.encoder.embeddings.cls_token";
constexpr const char* kLayerPrefix = "backbone.0.encoder.encoder.encoder.layer.";
constexpr std::int64_t kDinov2HeadWidth = 64;  // every DINOv2 preset: 384/6, 768/12, 1024/16

// config.json's `dinov2` block (what write_model reads) from the checkpoint's tensors. Sets
// `heads_assumed` when the head count is a guess (see recipe_from_rfdetr_checkpoint).
Json vit_block(const rfdetr::Checkpoint& checkpoint, const Args& args, bool& heads_assumed) {
  const auto token = checkpoint.model.find(kClassToken);
  if (token == checkpoint.model.end() || token->second.dim() != 3) {
    throw sdk::ConfigError(checkpoint.path.string() + ": its model has no " + kClassToken +
                           " [1, 1, width]: it is not an RF-DETR model with a DINOv2 backbone.");
  }
  const std::int64_t width = token->second.size(2);
  std::int64_t layers = 0;
  for (const auto& entry : checkpoint.model) {
    const std::string& name = entry.first;
    if (name.rfind(kLayerPrefix, 0) != 0) continue;
    layers = std::max<std::int64_t>(layers, std::atoll(name.c_str() + std::strlen(kLayerPrefix)) + 1);
  }
  const std::string encoder = args.text("encoder");
  const std::string size = encoder.substr(encoder.rfind('_') + 1);
  const auto preset = vit_preset(size);
  std::int64_t heads = preset ? preset->num_heads : 0;
  heads_assumed = !preset || preset->hidden_size != width;
  if (heads_assumed) heads = width % kDinov2HeadWidth == 0 ? width / kDinov2HeadWidth : 1;
  return Json{{"hidden_size", width}, {"num_attention_heads", heads}, {"num_hidden_layers", layers}};
}

}  // namespace

std::string recipe_from_rfdetr_checkpoint(const rfdetr::Checkpoint& checkpoint) {
  const std::string file = checkpoint.path.string();
  if (!checkpoint.args.is_object()) {
    throw sdk::ConfigError(file + ": has no 'args' (RF-DETR's training arguments), so the model it holds is "
                           "unknown; start from a shipped recipe (--size rfdetr-*) instead.");
  }
  try {
    Json args = checkpoint.args;
    bool heads_assumed = false;
    args["dinov2"] = vit_block(checkpoint, Args(args, ""), heads_assumed);
    std::string recipe = recipe_from_rfdetr_args(args);
    const std::size_t heads = recipe.find("\nnum_heads = ");
    if (heads_assumed && heads != std::string::npos) {
      recipe.insert(heads + 1, "# The checkpoint does not record the ViT's heads (no tensor shape shows them): "
                               "DINOv2's head width 64 assumed.\n");
    }
    return recipe;
  } catch (const sdk::ConfigError& error) {
    throw sdk::ConfigError(file + ": " + error.what());
  }
}

std::string recipe_from_rfdetr_args(const nlohmann::json& args) {
  if (!args.is_object()) {
    throw sdk::ConfigError("RF-DETR args: expected a JSON object of RF-DETR's arguments, not " +
                           std::string(args.type_name()) + ".");
  }
  const Args reader(args, "");
  TomlWriter out;
  out.line("# rtseg recipe made from RF-DETR training arguments (its checkpoint's 'args').");
  out.line("# Add a [data] section, or put this file in a recipe's `extends`, to train.");
  const bool segmentation = reader.has("segmentation_head") && reader.flag("segmentation_head");
  out.text("description", "RF-DETR " + reader.text("encoder") + ", " +
                              std::to_string(reader.integer("resolution")) + " px" +
                              (segmentation ? ", segmentation" : ", detection"));
  write_model(reader, args, out);
  write_train(reader, out);
  return out.str();
}

}  // namespace rtseg::framework
