#include "rtseg/framework/data_loader.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "rtseg/framework/cpu_threads.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/seed.h"

namespace rtseg::framework {
Batch collate(std::vector<TrainingSample> samples, std::int64_t index) {
  Batch batch;
  batch.index = index;
  if (samples.empty()) return batch;
  std::int64_t height = 0, width = 0;
  for (const auto& sample : samples) {
    height = std::max(height, sample.image.size(1));
    width = std::max(width, sample.image.size(2));
  }
  const auto count = static_cast<std::int64_t>(samples.size());
  batch.images = torch::zeros({count, 3, height, width}, torch::kFloat);
  batch.padding_mask = torch::ones({count, height, width}, torch::kBool);
  for (std::int64_t i = 0; i < count; ++i) {
    const torch::Tensor& image = samples[i].image;
    batch.images[i].narrow(1, 0, image.size(1)).narrow(2, 0, image.size(2)).copy_(image);
    batch.padding_mask[i].narrow(0, 0, image.size(1)).narrow(1, 0, image.size(2)).fill_(false);
    Targets targets = std::move(samples[i].targets);
    if (targets.masks.defined() && (image.size(1) != height || image.size(2) != width)) {
      // Masks follow the padded image.
      targets.masks = torch::constant_pad_nd(targets.masks, {0, width - image.size(2), 0, height - image.size(1)});
    }
    batch.targets.push_back(std::move(targets));
  }
  return batch;
}

DataLoader::DataLoader(std::shared_ptr<const sdk::Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (options_.batch_size < 1) throw sdk::ConfigError("the batch size must be at least 1");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw sdk::ConfigError("rank " + std::to_string(options_.rank) + " is outside a world of " +
                           std::to_string(options_.world_size));
  }
  if (!options_.image_size) throw sdk::ConfigError("the data loader needs an image size");
  if (options_.prefetch <= 0) options_.prefetch = 2 * std::max<std::int64_t>(1, options_.workers);
  start_epoch(0);
}

DataLoader::~DataLoader() { stop_workers(); }

std::vector<std::int64_t> DataLoader::epoch_indices(std::int64_t epoch) const {
  const std::int64_t size = dataset_->size(options_.split);
  if (size == 0) return {};
  std::mt19937_64 rng(sdk::mix_seed(options_.seed) ^ sdk::mix_seed(static_cast<std::uint64_t>(epoch) + 1));
  std::vector<std::int64_t> all;
  const std::int64_t wanted = options_.samples_per_epoch > 0 ? options_.samples_per_epoch : size;
  if (wanted > size) {
    std::uniform_int_distribution<std::int64_t> pick(0, size - 1);
    for (std::int64_t i = 0; i < wanted; ++i) all.push_back(pick(rng));
  } else {
    all.resize(static_cast<std::size_t>(size));
    std::iota(all.begin(), all.end(), 0);
    if (options_.shuffle) std::shuffle(all.begin(), all.end(), rng);
    all.resize(static_cast<std::size_t>(wanted));
  }
  // Every rank gets the same number of images (the list wraps around), like PyTorch's
  // DistributedSampler; rank r takes items r, r + world, ...
  const std::int64_t per_rank = (wanted + options_.world_size - 1) / options_.world_size;
  std::vector<std::int64_t> mine;
  for (std::int64_t i = 0; i < per_rank; ++i) {
    mine.push_back(all[static_cast<std::size_t>((i * options_.world_size + options_.rank) % wanted)]);
  }
  return mine;
}

std::int64_t DataLoader::batches_per_epoch() const {
  const auto images = static_cast<std::int64_t>(order_.size());
  return options_.drop_last ? images / options_.batch_size
                            : (images + options_.batch_size - 1) / options_.batch_size;
}

Batch DataLoader::make_batch(std::int64_t index) const {
  torch::NoGradGuard no_grad;
  const std::int64_t size = options_.image_size(index);
  const auto begin = static_cast<std::size_t>(index * options_.batch_size);
  const auto end = std::min(order_.size(), begin + static_cast<std::size_t>(options_.batch_size));
  std::vector<TrainingSample> samples;
  std::vector<sdk::DataProblem> problems;
  for (std::size_t i = begin; i < end; ++i) {
    const std::int64_t image = order_[i];
    try {
      const sdk::Sample sample = dataset_->load(options_.split, image);
      std::mt19937_64 rng(sdk::mix_seed(options_.seed ^ sdk::mix_seed(static_cast<std::uint64_t>(epoch_))) ^
                          sdk::mix_seed(static_cast<std::uint64_t>(image)));
      const Geometry geometry = options_.augment
                                    ? random_geometry(rng, sample.record.width, sample.record.height, size)
                                    : square_geometry(sample.record.width, sample.record.height, size);
      samples.push_back(transform_sample(sample, geometry, options_.masks));
    } catch (const sdk::DataError& error) {
      problems.push_back(sdk::DataProblem{dataset_->record(options_.split, image).file, error.what()});
    }
  }
  Batch batch = collate(std::move(samples), index);
  batch.problems = std::move(problems);
  if (options_.pin_memory && batch.images.defined()) batch.images = batch.images.pin_memory();
  return batch;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void DataLoader::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  order_ = epoch_indices(epoch);
  ready_.clear();
  next_to_make_ = next_to_return_ = first_batch;
  stopping_ = false;
  failure_ = nullptr;
  for (std::int64_t i = 0; i < options_.workers; ++i) workers_.emplace_back(&DataLoader::worker_loop, this);
}

void DataLoader::worker_loop() {
  keep_this_thread_serial();  // the training thread's ops own the cores' OpenMP threads
  const std::int64_t total = batches_per_epoch();
  for (;;) {
    std::int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || next_to_make_ >= total || next_to_make_ < next_to_return_ + options_.prefetch;
      });
      if (stopping_ || next_to_make_ >= total) return;
      index = next_to_make_++;
    }
    try {
      Batch batch = make_batch(index);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(index, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!failure_) failure_ = std::current_exception();
      stopping_ = true;
    }
    changed_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (next_to_return_ >= batches_per_epoch()) return std::nullopt;
  if (workers_.empty()) return make_batch(next_to_return_++);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return failure_ || ready_.count(next_to_return_) > 0; });
  if (failure_) std::rethrow_exception(failure_);
  Batch batch = std::move(ready_.at(next_to_return_));
  ready_.erase(next_to_return_++);
  lock.unlock();
  changed_.notify_all();
  return batch;
}

}  // namespace rtseg::framework
