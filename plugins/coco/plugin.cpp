#include "rtseg/sdk/plugin.h"

#include "coco_dataset.h"

namespace rtseg::plugins::coco {

void register_components(sdk::Registrar& registrar) {
  registrar.add("coco", sdk::make_factory<sdk::Dataset>(
                            "COCO instances JSON (Roboflow or COCO 2017 layout): polygons and RLE",
                            &coco_options_from, &make_coco));
}

}  // namespace rtseg::plugins::coco

RTSEG_PLUGIN("coco", "1.0.0", "Datasets in COCO format (Roboflow exports, COCO 2017)",
             rtseg::plugins::coco::register_components)
