#pragma once

#include <cstdint>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// How long the schedule runs, in optimizer steps.
struct ScheduleLength {
  std::int64_t total_steps = 0;      ///< optimizer steps in the whole run
  std::int64_t steps_per_epoch = 0;  ///< optimizer steps per epoch (after gradient accumulation)
};

/// A learning-rate schedule: the factor applied to every parameter group's base learning rate.
///
/// A pure function of the step, so a resumed run needs no scheduler state. Stepped once per
/// optimizer step (not per micro-batch), step 0 being the first update.
class RTSEG_SDK_API Scheduler {
 public:
  virtual ~Scheduler();
  /// Factor in [0, 1] for optimizer step `step` (0-based) of a run of `length`.
  virtual double factor(std::int64_t step, const ScheduleLength& length) const = 0;
};

}  // namespace rtseg::sdk
