#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/predict/inference_session.h"
#include "rtseg/framework/predict/overlay.h"
#include "rtseg/framework/predict/postprocess.h"
#include "rtseg/sdk/components/dataset.h"

namespace spdlog {
class logger;
}

/// Running a trained model on image files: decode, squeeze to the model's square input and
/// normalise (the evaluation transform), batched Model::predict, post-processing, one overlay
/// picture per image and one COCO results file for the set.
namespace rtseg::framework {

struct PredictOptions {
  std::int64_t resolution = 0;  ///< square input side the model takes (required)
  std::int64_t batch_size = 1;  ///< images per forward pass
  float confidence = 0.5f;      ///< detections scoring above this are kept
  std::int64_t num_select = 300;  ///< top-k before the confidence cut (RF-DETR's num_select)
  /// COCO category id per class index for predictions.json; empty: the class index itself.
  std::vector<std::int64_t> category_ids;
  InferenceOptions inference;  ///< precision and CUDA graph replay
  OverlayStyle style;     ///< how the pictures look
  int jpeg_quality = 90;  ///< for pictures written as JPEG
};

/// What predict_images did.
struct PredictReport {
  std::vector<std::filesystem::path> pictures;  ///< overlays written, in input order
  std::vector<sdk::DataProblem> problems;       ///< images skipped, and why
  std::filesystem::path results;                ///< the predictions.json written
  std::int64_t detections = 0;                  ///< entries in predictions.json
};

/// The images a --source names: the file itself, or a folder's *.jpg, *.jpeg and *.png (any
/// case; not recursive) sorted by name. Throws sdk::ConfigError (a usage error: exit code 2)
/// when it does not exist or a folder has no images.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& source);

/// Predicts every image and writes, into `out_dir` (created): one overlay per image, at the
/// input's (EXIF-oriented) size, named like the input (same extension; "_2", "_3" ... added when
/// two inputs share a name), and predictions.json, a COCO results list (image_id = the image's
/// index in `images`, file_name, category_id, bbox [x, y, w, h], score, segmentation {size,
/// counts} for segmentation models). An image that cannot be read or written is reported in
/// problems (and warned about through `logger` when given) and skipped; the rest continue.
/// Works on the model's device; the model is left in eval mode. Throws sdk::Error for bad
/// options or when predictions.json cannot be written.
PredictReport predict_images(Model& model, const std::vector<std::string>& class_names,
                             const std::vector<std::filesystem::path>& images,
                             const std::filesystem::path& out_dir, const PredictOptions& options,
                             const std::shared_ptr<spdlog::logger>& logger = nullptr);

/// One image (uint8 [H, W, 3] RGB) through the model: detections above `confidence` at the
/// image's size. Restores the model's training mode afterwards, so a trainer can call it
/// between steps.
SelectedDetections predict_image(Model& model, const torch::Tensor& image, std::int64_t resolution,
                                 float confidence, std::int64_t num_select = 300,
                                 std::int64_t num_classes = 0);

/// predict_image drawn with draw_overlay: the picture a trainer logs for a validation image.
torch::Tensor predict_overlay(Model& model, const std::vector<std::string>& class_names,
                              const torch::Tensor& image, std::int64_t resolution, float confidence,
                              const OverlayStyle& style = {});

}  // namespace rtseg::framework
