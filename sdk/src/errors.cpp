#include "rtseg/sdk/errors.h"

// Out-of-line destructors: the key functions that pin each type's vtable and type_info to
// librtseg_sdk.so, so exceptions thrown in a plugin are caught by type in the host.
namespace rtseg::sdk {
Error::~Error() = default;
ConfigError::~ConfigError() = default;
RegistryError::~RegistryError() = default;
PluginLoadError::~PluginLoadError() = default;
DataError::~DataError() = default;
}  // namespace rtseg::sdk
