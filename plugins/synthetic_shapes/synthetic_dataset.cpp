#include "synthetic_dataset.h"

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/seed.h"
#include "rtseg/sdk/suggest.h"

namespace rtseg::plugins::synthetic_shapes {
namespace {

// Annotation ids are image id x this + object index: unique while images hold fewer objects.
constexpr std::int64_t kIdsPerImage = 1000;


}  // namespace

SyntheticDataset::SyntheticDataset(SyntheticOptions options) : options_(options) {
  const std::array<std::pair<const char*, std::int64_t>, 3> counts = {
      {{"train", options.train_images}, {"valid", options.valid_images}, {"test", options.test_images}}};
  std::int64_t next_image_id = 1;
  for (std::size_t s = 0; s < counts.size(); ++s) {
    Split& split = splits_[s];
    split.name = counts[s].first;
    split.first_image_id = next_image_id;
    for (std::int64_t i = 0; i < counts[s].second; ++i) {
      const std::uint64_t seed = sdk::mix_seed(sdk::mix_seed(static_cast<std::uint64_t>(options.seed)) ^ sdk::mix_seed(s * 0x1000000ULL + i));
      split.scenes.push_back(make_scene(seed, options));
    }
    split.rendered.resize(split.scenes.size());
    next_image_id += counts[s].second;
  }
}

std::vector<sdk::Category> SyntheticDataset::categories() const {
  std::vector<sdk::Category> categories;
  for (std::size_t i = 0; i < options_.shapes.size(); ++i) {
    categories.push_back(sdk::Category{static_cast<std::int64_t>(i + 1), options_.shapes[i]});
  }
  return categories;
}

std::vector<std::string> SyntheticDataset::splits() const { return {"train", "valid", "test"}; }

const SyntheticDataset::Split& SyntheticDataset::split(std::string_view name) const {
  for (const Split& split : splits_) {
    if (split.name == name) return split;
  }
  throw sdk::ConfigError("synthetic_shapes has no split '" + std::string(name) +
                         "'; splits: train, valid, test." +
                         sdk::did_you_mean(name, {"train", "valid", "test"}));
}

const Scene& SyntheticDataset::scene(std::string_view name, std::int64_t index) const {
  const Split& s = split(name);
  if (index < 0 || index >= static_cast<std::int64_t>(s.scenes.size())) {
    throw sdk::DataError("synthetic_shapes: image " + std::to_string(index) + " is outside split '" +
                         s.name + "' of " + std::to_string(s.scenes.size()) + " images");
  }
  return s.scenes[static_cast<std::size_t>(index)];
}

std::int64_t SyntheticDataset::size(std::string_view name) const {
  return static_cast<std::int64_t>(split(name).scenes.size());
}

sdk::ImageRecord SyntheticDataset::record(std::string_view name, std::int64_t index) const {
  const Scene& s = scene(name, index);
  return sdk::ImageRecord{split(name).first_image_id + index, "", s.width, s.height};
}

std::vector<sdk::Annotation> SyntheticDataset::annotations(std::string_view name, std::int64_t index) const {
  return annotations_of(scene(name, index), record(name, index).id * kIdsPerImage + 1);
}

at::Tensor SyntheticDataset::image(std::string_view name, std::int64_t index) const {
  const Split& s = split(name);
  const Scene& drawn = scene(name, index);
  const auto slot = static_cast<std::size_t>(index);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // A copy: the caller owns (and may change) what load() returns.
    if (s.rendered[slot].defined()) return s.rendered[slot].clone();
  }
  at::Tensor pixels = render(drawn);  // outside the lock: other threads render their own images
  const std::int64_t bytes = pixels.numel();
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (!s.rendered[slot].defined() && cached_bytes_ + bytes <= options_.cache_mib * (1 << 20)) {
    s.rendered[slot] = pixels.clone();
    cached_bytes_ += bytes;
  }
  return pixels;
}

sdk::Sample SyntheticDataset::load(std::string_view name, std::int64_t index) const {
  return sdk::Sample{record(name, index), image(name, index), annotations(name, index)};
}

std::unique_ptr<SyntheticDataset> make_synthetic(SyntheticOptions options, const sdk::BuildContext&) {
  return std::make_unique<SyntheticDataset>(options);
}

}  // namespace rtseg::plugins::synthetic_shapes
