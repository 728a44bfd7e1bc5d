#pragma once

#include <condition_variable>
#include <exception>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rtseg/framework/sample_transform.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework {

/// A batch as the model takes it.
struct Batch {
  /// [B, 3, H, W] float, normalised; zero-padded to the largest image. Undefined when every
  /// image of the batch failed to load (the problems say why): callers skip such a batch.
  torch::Tensor images;
  torch::Tensor padding_mask;  ///< [B, H, W] bool, true = padding
  std::vector<Targets> targets;
  std::int64_t index = 0;      ///< batch number within the epoch
  std::vector<sdk::DataProblem> problems;  ///< images that could not be read and were left out
};

struct LoaderOptions {
  std::string split = "train";
  std::int64_t batch_size = 1;
  std::int64_t workers = 0;       ///< loading threads; 0 = load in the caller's thread
  std::int64_t prefetch = 0;      ///< batches prepared ahead; 0 = 2 per worker
  std::uint64_t seed = 0;         ///< order and augmentation are functions of (seed, epoch, image)
  bool shuffle = true;
  bool augment = true;            ///< RF-DETR's training augmentation; false = square resize only
  bool masks = true;              ///< build instance masks
  bool drop_last = false;
  bool pin_memory = false;        ///< page-locked batches for fast copies to a CUDA device
  std::int64_t rank = 0;          ///< this process's shard of the data ...
  std::int64_t world_size = 1;    ///< ... out of this many
  /// Samples per epoch (0 = one pass over the split). More than the split repeats images (drawn
  /// with replacement), as RF-DETR does for very small datasets.
  std::int64_t samples_per_epoch = 0;
  /// The square image side of batch `index` (multi-scale training changes it per step).
  std::function<std::int64_t(std::int64_t index)> image_size;
};

/// Loads, augments and batches a dataset split with a bounded prefetch queue.
///
/// Deterministic: the order of an epoch and every image's augmentation are drawn from
/// (seed, epoch, image index), so the batches are the same whatever the number of workers and
/// however threads are scheduled, and a resumed run gets the batches it would have had. Images
/// that fail to load are reported in Batch::problems and left out of their batch.
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const sdk::Dataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Starts an epoch at batch `first_batch` (to resume). Stops any batches still being made.
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  /// The next batch of the epoch, or nothing at its end.
  std::optional<Batch> next();

  std::int64_t batches_per_epoch() const;
  /// The dataset indices of this rank's epoch, in order (for tests and statistics).
  std::vector<std::int64_t> epoch_indices(std::int64_t epoch) const;

 private:
  Batch make_batch(std::int64_t index) const;
  void stop_workers();
  void worker_loop();

  std::shared_ptr<const sdk::Dataset> dataset_;
  LoaderOptions options_;
  std::int64_t epoch_ = 0;
  std::vector<std::int64_t> order_;  // this epoch's dataset indices for this rank

  // Prefetch state, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::int64_t, Batch> ready_;
  std::int64_t next_to_make_ = 0;
  std::int64_t next_to_return_ = 0;
  bool stopping_ = false;
  std::exception_ptr failure_;  // an unexpected error in a worker, rethrown by next()
  std::vector<std::thread> workers_;
};

/// Stacks samples into a batch, zero-padding images to the largest height and width.
Batch collate(std::vector<TrainingSample> samples, std::int64_t index);

}  // namespace rtseg::framework
