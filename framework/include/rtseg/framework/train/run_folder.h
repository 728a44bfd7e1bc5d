#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rtseg::framework::train {

/// A training run's folder and the names of everything in it (one place, so the trainer, eval,
/// predict and the next stage of a pipeline agree):
///   <root>/recipe.toml            the resolved recipe the run used
///   <root>/log.txt                the console log
///   <root>/metrics.jsonl, results.csv, curves.png
///   <root>/weights/last.safetensors, best.safetensors   model weights (EMA when enabled)
///   <root>/state.safetensors      optimizer, EMA, loss scale, RNG and data position (--resume)
///   <root>/events.out.tfevents.*  TensorBoard
///   <root>/predictions/           pictures of validation predictions
class RunFolder {
 public:
  /// A new folder <parent>/<stage>_<size>_<resolution>_<n>, n = 1 + the highest n in use.
  static RunFolder create(const std::filesystem::path& parent, const std::string& stage,
                          const std::string& size, std::int64_t resolution);
  /// An existing run; throws ConfigError naming the folder when it has no recipe.toml.
  static RunFolder open(const std::filesystem::path& root);
  /// The folder rank 0 created, on another rank: waits up to `wait` for it to be visible (a
  /// network filesystem's caches), then throws ConfigError saying the output folder must be on
  /// a filesystem every machine shares.
  static RunFolder open_from_rank0(const std::filesystem::path& root, int rank,
                                   std::chrono::milliseconds wait = std::chrono::seconds(90));

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path recipe() const { return root_ / "recipe.toml"; }
  std::filesystem::path log() const { return root_ / "log.txt"; }
  std::filesystem::path metrics() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path results_csv() const { return root_ / "results.csv"; }
  std::filesystem::path curves() const { return root_ / "curves.png"; }
  std::filesystem::path state() const { return root_ / "state.safetensors"; }
  std::filesystem::path weights(const std::string& which) const {
    return root_ / "weights" / (which + ".safetensors");
  }
  std::filesystem::path predictions() const { return root_ / "predictions"; }

  /// "best", "last" (or a path to a .safetensors file): the weights file to use; throws
  /// ConfigError listing what the run has when it is missing.
  std::filesystem::path weights_for(const std::string& which) const;

 private:
  explicit RunFolder(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace rtseg::framework::train
