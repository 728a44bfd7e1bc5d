#pragma once

#include <memory>
#include <string>
#include <vector>

#include "rtseg/framework/recipe.h"
#include "rtseg/sdk/build_context.h"

namespace rtseg::sdk {
class Backbone;
class Decoder;
class SegHead;
class Scheduler;
}  // namespace rtseg::sdk

namespace rtseg::framework {

class Registry;

/// The model components a recipe names, built by their plugins and wired through their specs:
/// the decoder and head receive the backbone's FeatureSpecs, the head the decoder's spec.
struct ModelParts {
  std::shared_ptr<sdk::Backbone> backbone;
  std::shared_ptr<sdk::Decoder> decoder;
  std::shared_ptr<sdk::SegHead> seg_head;  ///< null for a detector
};

/// Builds one component from its recipe section (the section's unread keys are errors).
template <class T>
std::shared_ptr<T> build_component(const Registry& registry, const RecipeDocument& document,
                                   const ComponentRef& ref, const sdk::BuildContext& context);

/// Builds the parts (backbone, decoder, optional head) in eval mode on context.device.
ModelParts build_model_parts(const Registry& registry, const RecipeDocument& document,
                             const CheckedRecipe& recipe, sdk::BuildContext context);

/// Runs the parts once on a blank [1, 3, R, R] image in eval mode and describes every output
/// ("backbone p4: [1, 256, 24, 24]", ...). Throws sdk::Error when a backbone's outputs disagree
/// with its published FeatureSpecs, or R is not a multiple of its size divisibility.
std::vector<std::string> probe_model(const ModelParts& parts, std::int64_t resolution);

}  // namespace rtseg::framework
