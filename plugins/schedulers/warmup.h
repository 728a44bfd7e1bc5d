#pragma once

#include <cstdint>

#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/config_reader.h"
#include "rtseg/sdk/registrar.h"

namespace rtseg::plugins::schedulers {

/// Options every schedule shares.
struct WarmupOptions {
  double warmup_epochs = 0;       ///< linear warm-up length in epochs (may be fractional)
  std::int64_t warmup_steps = 0;  ///< or in optimizer steps (wins when > 0)
  double min_factor = 0;          ///< the factor never goes below this, warm-up included
};

WarmupOptions warmup_options_from(sdk::ConfigReader& reader);

/// A schedule with linear warm-up and a floor. Subclasses give the factor after warm-up.
///
/// During warm-up the factor rises linearly from min_factor at step 0 to 1 at the end of the
/// warm-up, as RF-DETR does (its first update runs at min_factor, 0 by default).
class WarmupScheduler : public sdk::Scheduler {
 public:
  explicit WarmupScheduler(WarmupOptions options) : warmup_(options) {}
  double factor(std::int64_t step, const sdk::ScheduleLength& length) const final;

  /// Warm-up length in optimizer steps for a run of `length`.
  std::int64_t warmup_steps(const sdk::ScheduleLength& length) const;

 protected:
  /// The factor at `step` (counted from the start of the run) once warm-up is over;
  /// `decay_steps` = total steps after warm-up.
  virtual double after_warmup(std::int64_t step, std::int64_t warmup_steps,
                              const sdk::ScheduleLength& length) const = 0;

  const WarmupOptions warmup_;
};

}  // namespace rtseg::plugins::schedulers
