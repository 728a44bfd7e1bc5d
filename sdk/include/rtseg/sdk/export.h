#pragma once

/// Marks SDK classes and functions that plugins use across the shared-library boundary. The SDK
/// is one shared library (librtseg_sdk.so) so that type_info, vtables and exception types exist
/// exactly once: `catch (const rtseg::sdk::ConfigError&)` then works for errors thrown in a plugin.
#define RTSEG_SDK_API __attribute__((visibility("default")))
