#pragma once

#include <torch/nn/module.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/safetensors.h"

/// Loading a model's parameters and buffers from a safetensors file, and saving them, by the
/// module tree's names (RF-DETR's own names for the shipped plugins).
namespace rtseg::framework {

struct LoadOptions {
  /// Throw sdk::DataError (before changing anything) when a name is missing, unexpected or has
  /// another shape; the message lists up to 10 names of each kind, then counts.
  bool strict = true;
  /// RF-DETR's fine-tuning rules for a checkpoint with another number of classes or queries:
  /// a class head (class_embed.{weight,bias}, transformer.enc_out_class_embed.N.{weight,bias})
  /// with another number of rows is tiled to the model's rows (rows repeated, then cut, as
  /// LWDETR.reinitialize_detection_head does), and a query table (names ending in
  /// refpoint_embed.weight or query_feat.weight) with more rows keeps its first rows. Both are
  /// listed in LoadReport::resized.
  bool resize_class_heads = false;
  /// Names starting with one of these (plain string prefixes, in the model and in the file) are
  /// left alone: neither loaded nor reported. E.g. "backbone.0.projector.".
  std::vector<std::string> skip_prefixes;
};

struct LoadReport {
  std::vector<std::string> loaded;            ///< names copied (resized ones included)
  std::vector<std::string> missing;           ///< in the model, not in the file
  std::vector<std::string> unexpected;        ///< in the file, not in the model
  std::vector<std::string> shape_mismatches;  ///< "name: file [a, b] vs model [c, d]"; not loaded
  std::vector<std::string> resized;           ///< "name: file [a, b] -> model [c, b] (tiled)"
};

/// Tensors by name, as a checkpoint in memory holds them (e.g. an RF-DETR .pth's 'model').
using NamedTensors = std::map<std::string, at::Tensor>;

/// Copies the file's tensors into `model`'s parameters and buffers with the same names (to their
/// device and dtype, without recording gradients). Not strict: loads what matches and reports
/// the rest. Throws sdk::DataError (strict mode, see LoadOptions).
LoadReport load_state(torch::nn::Module& model, const sdk::SafetensorsFile& file,
                      const LoadOptions& options = {});

/// The same from tensors in memory; `origin` (the file they were read from) names them in
/// messages. The tensors are copied into the model, never duplicated beforehand.
LoadReport load_state(torch::nn::Module& model, const NamedTensors& tensors,
                      const std::filesystem::path& origin, const LoadOptions& options = {});

/// The classes a model was trained on, as weights files carry them in their metadata:
/// "class_names" (a JSON list of names, by class index) and "category_ids" (the dataset's ids).
std::map<std::string, std::string> classes_metadata(const std::vector<sdk::Category>& categories);
/// The categories a weights file's metadata names (empty when it has none or they do not parse;
/// ids are the class indices when the file has names but no ids).
std::vector<sdk::Category> classes_from_metadata(const sdk::SafetensorsFile& file);

/// Writes every parameter and buffer of `model` (atomically, see sdk::save_safetensors).
void save_state(const torch::nn::Module& model, const std::filesystem::path& file,
                const std::map<std::string, std::string>& metadata = {});

}  // namespace rtseg::framework
