# Every third-party C++ library is used as ONE shared copy (Debian packages): LibTorch, spdlog,
# TOML++, Abseil. A second static copy inside a plugin would split registries and singletons.
find_package(Torch REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(absl REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(Threads REQUIRED)
