#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/dataset.h"
#include "scene.h"

namespace rtseg::plugins::synthetic_shapes {

/// Procedurally drawn scenes of ellipses, rectangles, triangles, stars and rings, with textures,
/// occlusion and varied sizes: a dataset that needs no files. The scenes (and so the annotations)
/// are drawn when the dataset is built; pixels are rendered by load() and kept, up to
/// cache_mib, for the next epoch. Deterministic by seed: image i of a split is the same whatever
/// else is asked for. load() may be called from several threads at once.
class SyntheticDataset final : public sdk::Dataset {
 public:
  explicit SyntheticDataset(SyntheticOptions options);

  std::vector<sdk::Category> categories() const override;
  std::vector<std::string> splits() const override;
  std::int64_t size(std::string_view split) const override;
  sdk::ImageRecord record(std::string_view split, std::int64_t index) const override;
  std::vector<sdk::Annotation> annotations(std::string_view split, std::int64_t index) const override;
  sdk::Sample load(std::string_view split, std::int64_t index) const override;

 private:
  struct Split {
    std::string name;
    std::vector<Scene> scenes;
    std::int64_t first_image_id = 1;
    mutable std::vector<at::Tensor> rendered;  // [H, W, 3] uint8 once cached; guarded by cache_mutex_
  };
  const Split& split(std::string_view name) const;
  const Scene& scene(std::string_view name, std::int64_t index) const;
  at::Tensor image(std::string_view name, std::int64_t index) const;

  SyntheticOptions options_;
  std::array<Split, 3> splits_;
  mutable std::mutex cache_mutex_;
  mutable std::int64_t cached_bytes_ = 0;
};

std::unique_ptr<SyntheticDataset> make_synthetic(SyntheticOptions options, const sdk::BuildContext&);

}  // namespace rtseg::plugins::synthetic_shapes
