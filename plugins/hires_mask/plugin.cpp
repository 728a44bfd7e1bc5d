#include "rtseg/sdk/plugin.h"

#include "hires_mask_head.h"

namespace rtseg::plugins::hires_mask {

void register_components(sdk::Registrar& registrar) {
  registrar.add("hires_mask", sdk::make_factory<sdk::SegHead>(
                                  "dot-product mask head with a stride-4/8 image detail path",
                                  &hires_mask_options_from, &make_hires_mask));
}

}  // namespace rtseg::plugins::hires_mask

RTSEG_PLUGIN("hires_mask", "1.0.0", "Mask head with a high-resolution detail path",
             rtseg::plugins::hires_mask::register_components)
