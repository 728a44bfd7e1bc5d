#include "cosine.h"

#include <algorithm>
#include <cmath>

namespace rtseg::plugins::schedulers {

double CosineSchedule::after_warmup(std::int64_t step, std::int64_t warmup_steps,
                                    const sdk::ScheduleLength& length) const {
  const double span = static_cast<double>(std::max<std::int64_t>(1, length.total_steps - warmup_steps));
  const double progress = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
  const double min_factor = warmup_.min_factor;
  return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

WarmupOptions cosine_options_from(sdk::ConfigReader& reader) { return warmup_options_from(reader); }

std::unique_ptr<CosineSchedule> make_cosine(WarmupOptions options, const sdk::BuildContext&) {
  return std::make_unique<CosineSchedule>(options);
}

}  // namespace rtseg::plugins::schedulers
