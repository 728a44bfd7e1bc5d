#include "rtseg/sdk/plugin.h"

#include "constant.h"
#include "cosine.h"
#include "step.h"

namespace rtseg::plugins::schedulers {

void register_components(sdk::Registrar& registrar) {
  registrar.add(
      "constant",
      sdk::make_factory<sdk::Scheduler>("learning-rate factor 1 after an optional linear warm-up",
                                        &constant_options_from, &make_constant));
  registrar.add("step", sdk::make_factory<sdk::Scheduler>(
                            "multiply the learning rate by gamma at the given epochs",
                            &step_options_from, &make_step));
  registrar.add("cosine", sdk::make_factory<sdk::Scheduler>(
                              "cosine decay from 1 to min_factor after an optional warm-up",
                              &cosine_options_from, &make_cosine));
}

}  // namespace rtseg::plugins::schedulers

RTSEG_PLUGIN("schedulers", "1.0.0", "Learning-rate schedules: constant, step, cosine",
             rtseg::plugins::schedulers::register_components)
