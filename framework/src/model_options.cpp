#include "rtseg/framework/model_options.h"

namespace rtseg::framework {

ModelOptions model_options_from(sdk::ConfigReader& reader) {
  ModelOptions options;
  options.size = reader.get("size", options.size,
                            "size variant name (nano, small, base, medium, large); names run folders");
  options.resolution = reader.get("resolution", options.resolution,
                                  "square input side in pixels (memory grows with its square)");
  options.num_classes = reader.get("num_classes", options.num_classes,
                                   "number of object classes (a dataset's own count wins)");
  options.num_queries = reader.get("num_queries", options.num_queries,
                                   "object queries per group: the most objects one image can hold");
  options.num_select = reader.get("num_select", options.num_select,
                                  "detections kept per image at inference (top-k over queries x classes)");
  options.hidden_dim = reader.get("hidden_dim", options.hidden_dim,
                                  "width of the projector output and of the decoder");
  options.class_names = reader.get("class_names", options.class_names,
                                   "name of each class index, index 0 first (set from the dataset when training)");
  options.weights = reader.get("weights", options.weights,
                               "start from these weights with RF-DETR's fine-tuning rules: an RF-DETR .pth, a "
                               ".safetensors file or an rtseg run folder (its best weights)");
  options.weights_ema = reader.get("weights_ema", options.weights_ema,
                                   "take the EMA copy of `weights` (a .pth's ema_model; a run folder's EMA)");
  reader.check(options.resolution > 0, "resolution", "must be a positive number of pixels.");
  reader.check(options.num_classes > 0, "num_classes", "must be at least 1.");
  reader.check(options.num_queries > 0, "num_queries", "must be at least 1.");
  reader.check(options.num_select > 0, "num_select", "must be at least 1.");
  reader.check(options.hidden_dim > 0, "hidden_dim", "must be positive.");
  reader.check(!options.weights_ema || !options.weights.empty(), "weights_ema",
               "names no weights: set model.weights (--weights FILE) too.");
  return options;
}

sdk::ModelSettings model_settings(const ModelOptions& options) {
  sdk::ModelSettings settings;
  settings.resolution = options.resolution;
  settings.num_classes = options.num_classes;
  settings.num_queries = options.num_queries;
  settings.num_select = options.num_select;
  settings.hidden_dim = options.hidden_dim;
  return settings;
}

}  // namespace rtseg::framework
