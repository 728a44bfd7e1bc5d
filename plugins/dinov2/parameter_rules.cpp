#include "parameter_rules.h"

#include <cstdlib>

namespace rtseg::plugins::dinov2 {

namespace {

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

int vit_layer_id(const std::string& name, int num_layers) {
  if (contains(name, "embeddings")) return 0;
  const std::size_t at = name.find(".layer.");
  if (at != std::string::npos && !contains(name, ".residual.")) {
    return std::atoi(name.c_str() + at + 7) + 1;
  }
  return num_layers + 1;
}

}  // namespace

sdk::ParameterHint dinov2_parameter_hint(const std::string& name, int num_layers) {
  sdk::ParameterHint hint;
  hint.num_layers = num_layers;
  if (name.rfind("encoder.", 0) != 0) return hint;  // projector: layer_id -1, weight decay on
  hint.layer_id = vit_layer_id(name, num_layers);
  hint.component_depth = 2;  // RF-DETR scales the encoder's rate by lr_component_decay squared
  hint.no_weight_decay = contains(name, "gamma") || contains(name, "pos_embed") ||
                         contains(name, "rel_pos") || contains(name, "bias") ||
                         contains(name, "norm") || contains(name, "embeddings");
  return hint;
}

}  // namespace rtseg::plugins::dinov2
