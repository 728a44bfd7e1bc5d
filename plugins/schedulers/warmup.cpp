#include "warmup.h"

#include <algorithm>
#include <cmath>

namespace rtseg::plugins::schedulers {

WarmupOptions warmup_options_from(sdk::ConfigReader& reader) {
  WarmupOptions o;
  o.warmup_epochs = reader.get("warmup_epochs", o.warmup_epochs,
                               "linear warm-up length in epochs (may be fractional)");
  o.warmup_steps = reader.get("warmup_steps", o.warmup_steps,
                              "linear warm-up length in optimizer steps (wins over warmup_epochs)");
  o.min_factor = reader.get("min_factor", o.min_factor,
                            "lowest learning-rate factor, warm-up included");
  reader.check(o.warmup_epochs >= 0, "warmup_epochs", "must not be negative.");
  reader.check(o.warmup_steps >= 0, "warmup_steps", "must not be negative.");
  reader.check(!(o.warmup_steps > 0 && o.warmup_epochs > 0), "warmup_steps",
               "set warmup_steps or warmup_epochs, not both.");
  reader.check(o.min_factor >= 0 && o.min_factor <= 1, "min_factor", "must be in [0, 1].");
  return o;
}

std::int64_t WarmupScheduler::warmup_steps(const sdk::ScheduleLength& length) const {
  if (warmup_.warmup_steps > 0) return warmup_.warmup_steps;
  return static_cast<std::int64_t>(std::llround(warmup_.warmup_epochs * length.steps_per_epoch));
}

double WarmupScheduler::factor(std::int64_t step, const sdk::ScheduleLength& length) const {
  const std::int64_t warmup = warmup_steps(length);
  double value;
  if (step < warmup) {
    value = warmup_.min_factor +
            (1.0 - warmup_.min_factor) * static_cast<double>(step) / static_cast<double>(warmup);
  } else {
    value = after_warmup(step, warmup, length);
  }
  return std::clamp(value, warmup_.min_factor, 1.0);
}

}  // namespace rtseg::plugins::schedulers
