#include "rtseg/framework/predict/predictor.h"

#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/framework/predict/coco_results.h"
#include "rtseg/framework/predict/inference_session.h"
#include "rtseg/framework/sample_transform.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::framework {
namespace {

// The evaluation transform: the whole picture squeezed to resolution x resolution, normalised.
torch::Tensor model_input(const torch::Tensor& pixels, std::int64_t resolution) {
  sdk::Sample sample;
  sample.record.height = pixels.size(0);
  sample.record.width = pixels.size(1);
  sample.image = pixels;
  return transform_sample(sample, square_geometry(sample.record.width, sample.record.height, resolution),
                          /*with_masks=*/false)
      .image;
}

// Decoded pictures through the model in one batch.
std::vector<SelectedDetections> run_batch(InferenceSession& session, const std::vector<torch::Tensor>& pictures,
                                          std::int64_t resolution, const PostprocessOptions& options) {
  std::vector<torch::Tensor> inputs;
  std::vector<ImageSize> sizes;
  for (const torch::Tensor& pixels : pictures) {
    inputs.push_back(model_input(pixels, resolution));
    sizes.push_back({pixels.size(0), pixels.size(1)});
  }
  const Prediction prediction = session.run(torch::stack(inputs));
  return select_detections(prediction, sizes, options);
}

// The overlay's path: the input's file name in out_dir, made unique within the run.
class OutputNames {
 public:
  explicit OutputNames(std::filesystem::path folder) : folder_(std::move(folder)) {}

  std::filesystem::path next(const std::filesystem::path& input) {
    const std::string stem = input.stem().string(), extension = input.extension().string();
    std::string name = stem + extension;
    for (int n = 2; !used_.insert(name).second; ++n) name = stem + "_" + std::to_string(n) + extension;
    return folder_ / name;
  }

 private:
  std::filesystem::path folder_;
  std::set<std::string> used_;
};

void check_options(const PredictOptions& options) {
  if (options.resolution <= 0) throw sdk::Error("predict: the resolution must be positive");
  if (options.batch_size <= 0) throw sdk::Error("predict: the batch size must be positive");
  if (options.num_select <= 0) throw sdk::Error("predict: num_select must be positive");
}

}  // namespace

PredictReport predict_images(Model& model, const std::vector<std::string>& class_names,
                             const std::vector<std::filesystem::path>& images,
                             const std::filesystem::path& out_dir, const PredictOptions& options,
                             const std::shared_ptr<spdlog::logger>& logger) {
  check_options(options);
  std::error_code folder_error;
  std::filesystem::create_directories(out_dir, folder_error);
  if (folder_error) throw sdk::Error(out_dir.string() + ": cannot create the folder: " + folder_error.message());
  PostprocessOptions postprocess_options;
  postprocess_options.num_select = options.num_select;
  postprocess_options.num_classes = static_cast<std::int64_t>(class_names.size());
  postprocess_options.score_threshold = options.confidence;

  PredictReport report;
  const auto skip = [&](const std::filesystem::path& file, const std::string& reason) {
    report.problems.push_back({file.string(), reason});
    if (logger) logger->warn("skipping {}: {}", file.string(), reason);
  };
  InferenceSession session(model, options.inference);
  OutputNames names(out_dir);
  nlohmann::json results = nlohmann::json::array();
  const auto count = static_cast<std::int64_t>(images.size());
  for (std::int64_t start = 0; start < count; start += options.batch_size) {
    std::vector<std::int64_t> indices;
    std::vector<torch::Tensor> pictures;
    for (std::int64_t i = start; i < std::min(count, start + options.batch_size); ++i) {
      try {
        pictures.push_back(sdk::decode_image(images[static_cast<std::size_t>(i)]).pixels);
        indices.push_back(i);
      } catch (const sdk::Error& error) {
        skip(images[static_cast<std::size_t>(i)], error.what());
      }
    }
    if (pictures.empty()) continue;
    const std::vector<SelectedDetections> selected = run_batch(session, pictures, options.resolution, postprocess_options);
    for (std::size_t j = 0; j < indices.size(); ++j) {
      const std::filesystem::path& input = images[static_cast<std::size_t>(indices[j])];
      const std::filesystem::path output = names.next(input);
      std::error_code same_error;
      if (std::filesystem::equivalent(output, input, same_error)) {
        skip(input, "the overlay " + output.string() + " would overwrite the input");
        continue;
      }
      try {
        sdk::write_image(output, draw_overlay(pictures[j], selected[j], class_names, options.style),
                         options.jpeg_quality);
      } catch (const sdk::Error& error) {
        skip(input, error.what());
        continue;
      }
      report.pictures.push_back(output);
      const ImageDetections detections = to_detections(selected[j], indices[j]);
      append_coco_results(results, detections, input.filename().string(), options.category_ids, class_names);
      report.detections += static_cast<std::int64_t>(detections.size());
    }
  }
  report.results = out_dir / "predictions.json";
  sdk::write_file_atomically(report.results, results.dump());
  return report;
}

SelectedDetections predict_image(Model& model, const torch::Tensor& image, std::int64_t resolution,
                                 float confidence, std::int64_t num_select, std::int64_t num_classes) {
  if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kByte) {
    throw sdk::Error("predict_image: expected a uint8 [H, W, 3] image");
  }
  if (resolution <= 0) throw sdk::Error("predict_image: the resolution must be positive");
  const bool was_training = model.is_training();
  PostprocessOptions options;
  options.num_select = num_select;
  options.num_classes = num_classes;
  options.score_threshold = confidence;
  std::vector<SelectedDetections> selected;
  try {
    InferenceSession session(model, {});
    selected = run_batch(session, {image.to(torch::kCPU)}, resolution, options);
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return std::move(selected.front());
}

torch::Tensor predict_overlay(Model& model, const std::vector<std::string>& class_names,
                              const torch::Tensor& image, std::int64_t resolution, float confidence,
                              const OverlayStyle& style) {
  return draw_overlay(image, predict_image(model, image, resolution, confidence, 300,
                                           static_cast<std::int64_t>(class_names.size())), class_names, style);
}

}  // namespace rtseg::framework
