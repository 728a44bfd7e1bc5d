// Loads a large synthetic COCO file through the coco plugin and reports time and peak memory.
//
//   coco_load_bench [--annotations N] [--dir FOLDER] [--keep]
//
// Writes FOLDER/train/_annotations.coco.json (Roboflow layout; default: a fresh temp folder),
// N annotations (default 100,000) on N / 10 images of 640 x 480 with 80 classes and Roboflow's
// root category. Every annotation has a 16-point polygon; every fifth a second 8-point part;
// every fiftieth is a crowd annotation. The file is streamed out, so writing it costs no memory,
// then make_coco() builds the dataset (image_check = "lazy": no image is opened).
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "coco_dataset.h"
#include "rtseg/sdk/errors.h"

namespace {

namespace fs = std::filesystem;

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double current_rss_mib() {
  long pages = 0, resident = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(statm);
  }
  return static_cast<double>(resident) * 4096.0 / (1024.0 * 1024.0);
}

// A star-shaped polygon of `points` vertices around (cx, cy), in the deterministic stream.
void write_polygon(std::FILE* out, std::mt19937& random, double cx, double cy, double radius,
                   int points) {
  std::uniform_real_distribution<double> jitter(0.6, 1.0);
  std::fputc('[', out);
  for (int p = 0; p < points; ++p) {
    const double angle = 2 * M_PI * p / points;
    const double r = radius * jitter(random);
    std::fprintf(out, "%s%.2f,%.2f", p ? "," : "", cx + r * std::cos(angle),
                 cy + r * std::sin(angle));
  }
  std::fputc(']', out);
}

void write_dataset(const fs::path& file, long annotations) {
  fs::create_directories(file.parent_path());
  std::FILE* out = std::fopen(file.c_str(), "w");
  if (!out) throw std::runtime_error("cannot write " + file.string());
  std::mt19937 random(20240601);
  std::uniform_real_distribution<double> centre_x(60, 580), centre_y(60, 420), size(10, 50);
  const long images = std::max(1L, annotations / 10);
  std::fprintf(out,
               "{\"info\":{\"description\":\"coco_load_bench\"},\"licenses\":[],\"categories\":[");
  std::fprintf(out, "{\"id\":0,\"name\":\"objects\",\"supercategory\":\"none\"}");
  for (int c = 1; c <= 80; ++c)
    std::fprintf(out, ",{\"id\":%d,\"name\":\"class_%d\",\"supercategory\":\"objects\"}", c, c);
  std::fprintf(out, "],\"images\":[");
  for (long i = 0; i < images; ++i) {
    std::fprintf(
        out,
        "%s{\"id\":%ld,\"license\":1,\"file_name\":\"%08ld.jpg\",\"height\":480,\"width\":640,"
        "\"date_captured\":\"2024-06-01T00:00:00+00:00\"}",
        i ? "," : "", i + 1, i + 1);
  }
  std::fprintf(out, "],\"annotations\":[");
  for (long a = 0; a < annotations; ++a) {
    const double cx = centre_x(random), cy = centre_y(random), radius = size(random);
    std::fprintf(
        out,
        "%s{\"id\":%ld,\"image_id\":%ld,\"category_id\":%ld,\"bbox\":[%.2f,%.2f,%.2f,%.2f],"
        "\"area\":%.2f,\"iscrowd\":%d,\"segmentation\":[",
        a ? "," : "", a + 1, a % images + 1, a % 80 + 1, cx - radius, cy - radius, 2 * radius,
        2 * radius, 2.5 * radius * radius, a % 50 == 0 ? 1 : 0);
    write_polygon(out, random, cx, cy, radius, 16);
    if (a % 5 == 0) {
      std::fputc(',', out);
      write_polygon(out, random, cx + radius, cy, radius / 3, 8);
    }
    std::fprintf(out, "]}");
  }
  std::fprintf(out, "]}\n");
  std::fclose(out);
}

}  // namespace

int main(int argc, char** argv) {
  long annotations = 100000;
  fs::path dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--annotations" && i + 1 < argc) {
      annotations = std::atol(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: %s [--annotations N] [--dir FOLDER] [--keep]\n", argv[0]);
      return 2;
    }
  }
  const bool temporary = dir.empty();
  if (temporary)
    dir = fs::temp_directory_path() / ("coco_load_bench_" + std::to_string(::getpid()));
  const fs::path file = dir / "train" / "_annotations.coco.json";

  try {
    const auto write_start = std::chrono::steady_clock::now();
    write_dataset(file, annotations);
    const double write_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();
    const double rss_before = peak_rss_mib();

    rtseg::plugins::coco::CocoOptions options;
    options.path = dir.string();
    const auto load_start = std::chrono::steady_clock::now();
    const auto dataset = rtseg::plugins::coco::make_coco(options, rtseg::sdk::BuildContext{});
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

    long loaded = 0;
    for (std::int64_t i = 0; i < dataset->size("train"); ++i) {
      loaded += static_cast<long>(dataset->annotations("train", i).size());
    }
    std::printf("file:            %s (%.1f MiB, written in %.2f s)\n", file.c_str(),
                static_cast<double>(fs::file_size(file)) / (1024.0 * 1024.0), write_seconds);
    std::printf("images:          %lld\n", static_cast<long long>(dataset->size("train")));
    std::printf("annotations:     %ld (problems: %zu, classes: %zu)\n", loaded,
                dataset->problems("train").size(), dataset->categories().size());
    std::printf("load seconds:    %.3f\n", load_seconds);
    std::printf("peak RSS:        %.1f MiB (%.1f MiB before loading)\n", peak_rss_mib(),
                rss_before);
    std::printf("RSS after load:  %.1f MiB (the dataset held in memory)\n", current_rss_mib());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "coco_load_bench: %s\n", error.what());
    return 1;
  }
  if (temporary && !keep) fs::remove_all(dir);
  return 0;
}
