#pragma once

#include <memory>

#include "warmup.h"

namespace rtseg::plugins::schedulers {

/// Half a cosine from 1 after warm-up down to min_factor at the last step.
class CosineSchedule final : public WarmupScheduler {
 public:
  using WarmupScheduler::WarmupScheduler;

 protected:
  double after_warmup(std::int64_t step, std::int64_t warmup_steps,
                      const sdk::ScheduleLength& length) const override;
};

WarmupOptions cosine_options_from(sdk::ConfigReader& reader);
std::unique_ptr<CosineSchedule> make_cosine(WarmupOptions options, const sdk::BuildContext&);

}  // namespace rtseg::plugins::schedulers
