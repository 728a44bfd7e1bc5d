#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "warmup.h"

namespace rtseg::plugins::schedulers {

struct StepOptions {
  WarmupOptions warmup;
  /// Epochs at whose start the factor is multiplied by gamma (RF-DETR: lr_drop = 100).
  std::vector<std::int64_t> drop_epochs{100};
  double gamma = 0.1;
};

StepOptions step_options_from(sdk::ConfigReader& reader);

/// gamma^k after warm-up, k = number of drop epochs reached.
class StepSchedule final : public WarmupScheduler {
 public:
  explicit StepSchedule(StepOptions options);

 protected:
  double after_warmup(std::int64_t step, std::int64_t warmup_steps,
                      const sdk::ScheduleLength& length) const override;

 private:
  std::vector<std::int64_t> drop_epochs_;
  double gamma_;
};

std::unique_ptr<StepSchedule> make_step(StepOptions options, const sdk::BuildContext&);

}  // namespace rtseg::plugins::schedulers
