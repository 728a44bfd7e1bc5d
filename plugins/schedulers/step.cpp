#include "step.h"

#include <algorithm>
#include <cmath>

namespace rtseg::plugins::schedulers {

StepOptions step_options_from(sdk::ConfigReader& reader) {
  StepOptions o;
  o.warmup = warmup_options_from(reader);
  o.drop_epochs = reader.get("drop_epochs", o.drop_epochs,
                             "epochs at whose start the learning rate is multiplied by gamma");
  o.gamma = reader.get("gamma", o.gamma, "factor applied at each drop");
  reader.check(o.gamma > 0 && o.gamma <= 1, "gamma", "must be in (0, 1].");
  for (std::int64_t epoch : o.drop_epochs) {
    reader.check(epoch >= 0, "drop_epochs", "epochs must not be negative.");
  }
  return o;
}

StepSchedule::StepSchedule(StepOptions options)
    : WarmupScheduler(options.warmup), drop_epochs_(std::move(options.drop_epochs)),
      gamma_(options.gamma) {
  std::sort(drop_epochs_.begin(), drop_epochs_.end());
}

double StepSchedule::after_warmup(std::int64_t step, std::int64_t,
                                  const sdk::ScheduleLength& length) const {
  // Milestones count from the start of the run, warm-up included, as RF-DETR's lr_drop does.
  int drops = 0;
  for (std::int64_t epoch : drop_epochs_) {
    if (step >= epoch * length.steps_per_epoch) ++drops;
  }
  return std::pow(gamma_, drops);
}

std::unique_ptr<StepSchedule> make_step(StepOptions options, const sdk::BuildContext&) {
  return std::make_unique<StepSchedule>(std::move(options));
}

}  // namespace rtseg::plugins::schedulers
