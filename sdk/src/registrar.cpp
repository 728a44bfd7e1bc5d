#include "rtseg/sdk/registrar.h"

#include "rtseg/sdk/components/scheduler.h"

namespace rtseg::sdk {
Registrar::~Registrar() = default;
Scheduler::~Scheduler() = default;
}  // namespace rtseg::sdk
