#include "rtseg/sdk/plugin.h"

#include "factory.h"

namespace rtseg::plugins::lwdetr {

void register_components(sdk::Registrar& registrar) {
  registrar.add("lwdetr", lwdetr_factory());
}

}  // namespace rtseg::plugins::lwdetr

RTSEG_PLUGIN("lwdetr", "1.0.0", "RF-DETR 1.4.1's LW-DETR decoder",
             rtseg::plugins::lwdetr::register_components)
