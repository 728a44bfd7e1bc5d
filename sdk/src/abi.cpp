#include "rtseg/sdk/abi.h"

namespace rtseg::sdk {
const char* host_build_fingerprint() noexcept { return RTSEG_BUILD_FINGERPRINT; }
}  // namespace rtseg::sdk
