#pragma once

#include <cstdint>

#include <torch/version.h>

/// ABI version and build fingerprint. Boost.DLL checks nothing about a loaded library's ABI, so
/// the host compares these two before it runs any registration code of a plugin.
namespace rtseg::sdk {

/// Bumped when an SDK type changes layout or a virtual function is changed, removed or moved.
/// A plugin built against another major version is refused.
inline constexpr std::uint32_t kAbiMajor = 2;

/// Bumped when something is only appended (a new component kind at the end of Registrar, a new
/// field at the end of a host-allocated struct, a new SDK function: 1 added sdk::autocast_input).
/// A host accepts plugins whose minor is <= its own.
inline constexpr std::uint32_t kAbiMinor = 1;

/// The fingerprint the SDK library itself was compiled with (the host's).
const char* host_build_fingerprint() noexcept;

}  // namespace rtseg::sdk

#define RTSEG_FINGERPRINT_STR2(x) #x
#define RTSEG_FINGERPRINT_STR(x) RTSEG_FINGERPRINT_STR2(x)

#if defined(__clang__)
#define RTSEG_FINGERPRINT_COMPILER "clang-" RTSEG_FINGERPRINT_STR(__clang_major__)
#elif defined(__GNUC__)
#define RTSEG_FINGERPRINT_COMPILER "gcc-" RTSEG_FINGERPRINT_STR(__GNUC__)
#else
#define RTSEG_FINGERPRINT_COMPILER "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define RTSEG_FINGERPRINT_STDLIB "libstdc++-cxx11abi-" RTSEG_FINGERPRINT_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define RTSEG_FINGERPRINT_STDLIB "other-stdlib"
#endif

// CUDA builds of LibTorch ship the generated c10/cuda/impl/cuda_cmake_macros.h; CPU-only builds
// (Debian's, which still install the other c10/cuda headers) do not.
#if __has_include(<c10/cuda/impl/cuda_cmake_macros.h>)
#define RTSEG_FINGERPRINT_CUDA "cuda-on"
#else
#define RTSEG_FINGERPRINT_CUDA "cuda-off"
#endif

/// What a plugin and the host must agree on to share C++ objects: compiler, C++ library ABI,
/// LibTorch version and whether LibTorch has CUDA. Expanded in each plugin at its compile time.
#define RTSEG_BUILD_FINGERPRINT                                                      \
  RTSEG_FINGERPRINT_COMPILER " " RTSEG_FINGERPRINT_STDLIB " libtorch-" TORCH_VERSION \
                             " " RTSEG_FINGERPRINT_CUDA
