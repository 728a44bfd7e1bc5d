#pragma once

#include <cstdint>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include "rtseg/sdk/abi.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/config_reader.h"
#include "rtseg/sdk/registrar.h"

namespace rtseg::sdk {

/// Marks a PluginInfo, so that a stray symbol of the same name is not misread.
inline constexpr std::uint32_t kPluginMagic = 0x52545347;  // "RTSG"

/// Exported names of the two symbols RTSEG_PLUGIN defines.
inline constexpr const char* kPluginInfoSymbol = "rtseg_plugin_info";
inline constexpr const char* kPluginRegisterSymbol = "rtseg_plugin_register";

/// Plain data the host reads before it runs any function of the plugin. The first three fields
/// never move, whatever the ABI version, so any host can tell why it refuses a plugin.
struct PluginInfo {
  std::uint32_t magic;
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* name;               ///< plugin name, e.g. "schedulers"
  const char* version;            ///< the plugin's own version, informational
  const char* description;        ///< one line
  const char* build_fingerprint;  ///< RTSEG_BUILD_FINGERPRINT when the plugin was compiled
};

/// The register function: adds the plugin's components.
using RegisterFunction = void(Registrar&);

}  // namespace rtseg::sdk

/// Declares a plugin. Use once, at global scope, in the plugin's plugin.cpp:
///
///     RTSEG_PLUGIN("my_backbones", "1.0.0", "Backbones of my lab", my::register_components)
///
/// It exports `rtseg_plugin_info` (a PluginInfo) and, through Boost.DLL, the alias
/// `rtseg_plugin_register` for REGISTER_FN, a `void(rtseg::sdk::Registrar&)`.
#define RTSEG_PLUGIN(NAME, VERSION, DESCRIPTION, REGISTER_FN)                              \
  extern "C" BOOST_SYMBOL_EXPORT const ::rtseg::sdk::PluginInfo rtseg_plugin_info;         \
  const ::rtseg::sdk::PluginInfo rtseg_plugin_info = {                                     \
      ::rtseg::sdk::kPluginMagic, ::rtseg::sdk::kAbiMajor, ::rtseg::sdk::kAbiMinor, NAME,   \
      VERSION,                    DESCRIPTION,             RTSEG_BUILD_FINGERPRINT};         \
  static_assert(std::is_same_v<decltype(&REGISTER_FN), ::rtseg::sdk::RegisterFunction*>,   \
                "the register function must be void(rtseg::sdk::Registrar&)");            \
  BOOST_DLL_ALIAS(REGISTER_FN, rtseg_plugin_register)
