#pragma once

#include <memory>

#include "warmup.h"

namespace rtseg::plugins::schedulers {

/// 1 after warm-up: RF-DETR's default ("step" with a drop past the last epoch) in effect.
class ConstantSchedule final : public WarmupScheduler {
 public:
  using WarmupScheduler::WarmupScheduler;

 protected:
  double after_warmup(std::int64_t, std::int64_t, const sdk::ScheduleLength&) const override {
    return 1.0;
  }
};

WarmupOptions constant_options_from(sdk::ConfigReader& reader);
std::unique_ptr<ConstantSchedule> make_constant(WarmupOptions options, const sdk::BuildContext&);

}  // namespace rtseg::plugins::schedulers
