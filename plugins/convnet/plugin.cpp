#include "convnet_backbone.h"
#include "options.h"
#include "rtseg/sdk/plugin.h"

namespace rtseg::plugins::convnet {

void register_components(sdk::Registrar& registrar) {
  registrar.add("convnet", sdk::make_factory<sdk::Backbone>(
                                        "a small residual CNN that trains from scratch (the quickstart's backbone)",
                                        &convnet_options_from, &make_convnet));
}

}  // namespace rtseg::plugins::convnet

RTSEG_PLUGIN("convnet", "0.1.0", "Small residual CNN backbone", rtseg::plugins::convnet::register_components)
