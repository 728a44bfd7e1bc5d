#include "rtseg/sdk/plugin.h"

#include "synthetic_dataset.h"

namespace rtseg::plugins::synthetic_shapes {

void register_components(sdk::Registrar& registrar) {
  registrar.add("synthetic_shapes",
                sdk::make_factory<sdk::Dataset>(
                    "procedural shapes with instance masks; deterministic by seed, needs no files",
                    &synthetic_options_from, &make_synthetic));
}

}  // namespace rtseg::plugins::synthetic_shapes

RTSEG_PLUGIN("synthetic_shapes", "1.0.0", "The embedded default dataset: drawn shapes with masks",
             rtseg::plugins::synthetic_shapes::register_components)
