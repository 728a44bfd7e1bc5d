// Data-loader throughput: images per second through decoding, RF-DETR's training augmentation,
// mask rasterisation at the training size and batching, for several worker counts.
//
//   rtseg_bench_loader [--images N] [--size S] [--resolution R] [--batch B] [--workers 0,1,2]
//                      [--dir FOLDER]
//
// Writes N synthetic images (sides S/2..S, default 640) as a COCO dataset on disk (JPEG, like a
// Roboflow export) into FOLDER (default: a fresh temporary folder), opens it with the `coco`
// plugin and times one epoch per worker count after one warm-up batch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>

#include "rtseg/framework/coco_export.h"
#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/sdk/components/dataset.h"

namespace {

namespace fs = std::filesystem;
using namespace rtseg;

struct Args {
  std::int64_t images = 256;
  std::int64_t size = 640;
  std::int64_t resolution = 384;
  std::int64_t batch = 4;
  std::vector<std::int64_t> workers = {1, 2};
  fs::path dir;
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--images") args.images = std::stoll(value);
    else if (key == "--size") args.size = std::stoll(value);
    else if (key == "--resolution") args.resolution = std::stoll(value);
    else if (key == "--batch") args.batch = std::stoll(value);
    else if (key == "--dir") args.dir = value;
    else if (key == "--workers") {
      args.workers.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) args.workers.push_back(std::stoll(item));
    } else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  return args;
}

std::shared_ptr<sdk::Dataset> build_dataset(framework::Runtime& runtime, const std::string& toml,
                                            const std::string& type) {
  const auto document = framework::RecipeDocument::parse_text(toml, "loader bench");
  sdk::BuildContext context;
  context.logger = runtime.logger();
  return framework::build_component<sdk::Dataset>(
      runtime.registry(), document, framework::ComponentRef{sdk::ComponentKind::kDataset, type, "data"},
      context);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  framework::Runtime runtime;
  fs::path dir = args.dir;
  if (dir.empty()) dir = fs::temp_directory_path() / ("rtseg_loader_bench_" + std::to_string(::getpid()));

  const std::string synth = "[data]\ntype = \"synthetic_shapes\"\ntrain_images = " + std::to_string(args.images) +
                            "\nvalid_images = 1\nmin_size = " + std::to_string(args.size / 2) +
                            "\nmax_size = " + std::to_string(args.size) + "\n";
  if (!fs::exists(dir / "train" / "_annotations.coco.json")) {
    framework::export_coco(*build_dataset(runtime, synth, "synthetic_shapes"), dir, "jpg");
  }
  const auto dataset = build_dataset(runtime, "[data]\ntype = \"coco\"\npath = '" + dir.string() + "'\n", "coco");

  std::printf("loader bench: %lld images (sides %lld..%lld, JPEG) at %lld, batch %lld, %d intra-op threads\n",
              static_cast<long long>(args.images), static_cast<long long>(args.size / 2),
              static_cast<long long>(args.size), static_cast<long long>(args.resolution),
              static_cast<long long>(args.batch), at::get_num_threads());
  for (const std::int64_t workers : args.workers) {
    framework::LoaderOptions options;
    options.batch_size = args.batch;
    options.workers = workers;
    const std::int64_t resolution = args.resolution;
    options.image_size = [resolution](std::int64_t) { return resolution; };
    framework::DataLoader loader(dataset, options);
    loader.next();  // warm-up: threads started, first decodes done
    const auto start = std::chrono::steady_clock::now();
    std::int64_t images = 0;
    while (auto batch = loader.next()) images += static_cast<std::int64_t>(batch->targets.size());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("  workers %lld: %7.1f images/s (%lld images in %.2f s)\n", static_cast<long long>(workers),
                static_cast<double>(images) / seconds, static_cast<long long>(images), seconds);
  }
  if (args.dir.empty()) fs::remove_all(dir);
  return 0;
}
