// Times evaluate_coco on a deterministic synthetic set, in memory (no JSON):
//
//   coco_eval_bench [--images N] [--detections D] [--threads T]
//
// N images (default 5,000) of 640 x 480, 80 categories, 7 GT boxes per image (every 20th a crowd)
// with rectangular masks, and D detections per image (default 100): jittered copies of the GTs
// plus random boxes, all with masks. Prints the seconds for bbox and segm at 1 thread and T
// threads (default 2), and AP as a sanity check.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "rtseg/framework/eval/coco_evaluator.h"
#include "rtseg/sdk/masks.h"

namespace {

namespace eval = rtseg::framework::eval;

struct Scene {
  eval::GroundTruth truth;
  std::vector<rtseg::framework::Detection> detections;
  std::vector<rtseg::sdk::Category> categories;
};

Scene make_scene(int images, int detections_per_image) {
  constexpr int kWidth = 640, kHeight = 480, kCategories = 80, kObjects = 7;
  std::mt19937 random(7);
  auto uniform = [&](double low, double high) { return std::uniform_real_distribution<double>(low, high)(random); };
  Scene scene;
  for (int c = 0; c < kCategories; ++c) {
    scene.categories.push_back({c + 1, "class" + std::to_string(c + 1)});
    scene.truth.categories.push_back({c + 1, "class" + std::to_string(c + 1)});
  }
  std::int64_t annotation_id = 1;
  for (int i = 0; i < images; ++i) {
    scene.truth.images.push_back({i + 1, kHeight, kWidth});
    std::vector<std::pair<std::array<double, 4>, int>> objects;
    for (int k = 0; k < kObjects; ++k) {
      const double w = uniform(8, 200), h = uniform(8, 200);
      const std::array<double, 4> box{std::floor(uniform(0, kWidth - w)), std::floor(uniform(0, kHeight - h)),
                                      std::floor(w), std::floor(h)};
      const int label = static_cast<int>(random() % kCategories);
      objects.push_back({box, label});
      eval::GtAnnotation annotation;
      annotation.id = annotation_id++;
      annotation.image_id = i + 1;
      annotation.category_id = label + 1;
      annotation.box_xywh = box;
      annotation.has_box = true;
      annotation.area = box[2] * box[3];
      annotation.is_crowd = annotation.id % 20 == 0;
      annotation.segmentation.rle = rtseg::sdk::masks::from_box(box, kHeight, kWidth);
      scene.truth.annotations.push_back(std::move(annotation));
    }
    for (int d = 0; d < detections_per_image; ++d) {
      auto [box, label] = objects[static_cast<std::size_t>(d) % objects.size()];
      if (d >= 3 * kObjects) {  // the rest: random boxes of random classes
        box = {std::floor(uniform(0, kWidth - 50)), std::floor(uniform(0, kHeight - 50)), 40, 40};
        label = static_cast<int>(random() % kCategories);
      } else {
        box[0] = std::max(0.0, box[0] + std::round(uniform(-6, 6)));
        box[1] = std::max(0.0, box[1] + std::round(uniform(-6, 6)));
      }
      rtseg::framework::Detection detection;
      detection.image_id = i + 1;
      detection.label = label;
      detection.score = static_cast<float>(uniform(0, 1));
      detection.box_xywh = box;
      detection.mask = rtseg::sdk::masks::from_box(box, kHeight, kWidth);
      scene.detections.push_back(std::move(detection));
    }
  }
  return scene;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 5000, detections = 100, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--images") images = value;
    else if (flag == "--detections") detections = value;
    else if (flag == "--threads") threads = value;
  }
  const Scene scene = make_scene(images, detections);
  std::printf("%d images, %zu GT, %zu detections\n", images, scene.truth.annotations.size(), scene.detections.size());
  for (eval::IouType type : {eval::IouType::kBox, eval::IouType::kSegm}) {
    const eval::EvalResults results = eval::results_from(scene.detections, scene.categories, type);
    for (int t : {1, threads}) {
      eval::EvalOptions options;
      options.iou_type = type;
      options.threads = t;
      const auto start = std::chrono::steady_clock::now();
      const eval::CocoMetrics metrics = eval::evaluate_coco(scene.truth, results, options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%s  threads %d  %.3f s  AP %.4f  AP50 %.4f\n", eval::iou_type_name(type), t, seconds,
                  metrics.stats[eval::kAp], metrics.stats[eval::kAp50]);
    }
  }
  return 0;
}
