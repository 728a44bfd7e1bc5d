#include "rtseg/sdk/plugin.h"

#include "rfdetr_mask_head.h"

namespace rtseg::plugins::rfdetr_mask {

void register_components(sdk::Registrar& registrar) {
  registrar.add("rfdetr_mask", sdk::make_factory<sdk::SegHead>(
                                   "RF-DETR's dot-product mask head on the first projector map",
                                   &rfdetr_mask_options_from, &make_rfdetr_mask));
}

}  // namespace rtseg::plugins::rfdetr_mask

RTSEG_PLUGIN("rfdetr_mask", "1.0.0", "RF-DETR 1.4.1's segmentation head",
             rtseg::plugins::rfdetr_mask::register_components)
