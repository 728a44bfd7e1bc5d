#include "rtseg/framework/train/run_folder.h"

#include <algorithm>
#include <thread>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {

namespace fs = std::filesystem;

RunFolder RunFolder::create(const fs::path& parent, const std::string& stage, const std::string& size,
                            std::int64_t resolution) {
  const std::string stem = stage + "_" + (size.empty() ? "custom" : size) + "_" + std::to_string(resolution) + "_";
  std::int64_t highest = 0;
  std::error_code error;
  if (fs::is_directory(parent, error)) {
    for (const auto& entry : fs::directory_iterator(parent)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(stem, 0) != 0) continue;
      const std::string tail = name.substr(stem.size());
      if (tail.empty() || tail.find_first_not_of("0123456789") != std::string::npos) continue;
      highest = std::max<std::int64_t>(highest, std::stoll(tail));
    }
  }
  // create_directory fails when another process took the name first: try the next number.
  for (std::int64_t n = highest + 1;; ++n) {
    const fs::path root = parent / (stem + std::to_string(n));
    fs::create_directories(parent);
    if (fs::create_directory(root, error)) {
      fs::create_directories(root / "weights");
      return RunFolder(root);
    }
    if (error) throw sdk::Error("cannot create the run folder " + root.string() + ": " + error.message());
  }
}

RunFolder RunFolder::open(const fs::path& root) {
  if (!fs::is_regular_file(root / "recipe.toml")) {
    throw sdk::ConfigError(root.string() + ": not a run folder (no recipe.toml). Give a folder made by `rtseg train`, "
                           "e.g. runs/detector_nano_384_1.");
  }
  return RunFolder(root);
}

RunFolder RunFolder::open_from_rank0(const fs::path& root, int rank, std::chrono::milliseconds wait) {
  // A network filesystem may show another machine's new file only after its attribute cache
  // expires (NFS: up to 30 s or more), so a rank looks again for a while before giving up.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!fs::is_regular_file(root / "recipe.toml")) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw sdk::ConfigError("rank " + std::to_string(rank) + " cannot see the run folder rank 0 created, " +
                             root.string() + " (no recipe.toml after " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
                             " s): on several machines, train.output_dir (--output_dir) must be on a filesystem "
                             "every machine mounts at the same path (NFS, Lustre, ...).");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return RunFolder(root);
}

fs::path RunFolder::weights_for(const std::string& which) const {
  fs::path file = (which == "best" || which == "last") ? weights(which) : fs::path(which);
  if (fs::is_regular_file(file)) return file;
  std::string have;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_ / "weights", error)) {
    have += (have.empty() ? "" : ", ") + entry.path().filename().string();
  }
  throw sdk::ConfigError(file.string() + " does not exist (the run has: " + (have.empty() ? "no weights yet" : have) +
                         "). Use --weights best, last or a .safetensors file.");
}

}  // namespace rtseg::framework::train
