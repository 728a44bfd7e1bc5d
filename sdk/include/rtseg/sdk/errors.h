#pragma once

#include <stdexcept>
#include <string>

#include "rtseg/sdk/export.h"

/// One exception hierarchy for the whole project. The types live in librtseg_sdk.so (out-of-line
/// destructors are their key functions), so a `catch` in the host matches a throw in a plugin.
namespace rtseg::sdk {

/// Base of every rtseg error. what() is a complete, user-facing paragraph.
class RTSEG_SDK_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ~Error() override;
};

/// The user's input is wrong: a recipe, an option, a flag. The CLI exits with code 2.
class RTSEG_SDK_API ConfigError : public Error {
 public:
  using Error::Error;
  ~ConfigError() override;
};

/// A recipe names a component that no loaded plugin provides, or two plugins provide one name.
/// Also a usage error (exit code 2).
class RTSEG_SDK_API RegistryError : public Error {
 public:
  using Error::Error;
  ~RegistryError() override;
};

/// A shared library could not be used as a plugin. The host logs it and goes on with the others.
class RTSEG_SDK_API PluginLoadError : public Error {
 public:
  using Error::Error;
  ~PluginLoadError() override;
};

/// Data on disk is missing or malformed (dataset files, images, checkpoints).
class RTSEG_SDK_API DataError : public Error {
 public:
  using Error::Error;
  ~DataError() override;
};

}  // namespace rtseg::sdk
