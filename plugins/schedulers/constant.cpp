#include "constant.h"

namespace rtseg::plugins::schedulers {

WarmupOptions constant_options_from(sdk::ConfigReader& reader) {
  return warmup_options_from(reader);
}

std::unique_ptr<ConstantSchedule> make_constant(WarmupOptions options, const sdk::BuildContext&) {
  return std::make_unique<ConstantSchedule>(options);
}

}  // namespace rtseg::plugins::schedulers
