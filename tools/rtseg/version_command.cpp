#include <iostream>

#include <torch/version.h>

#include "cli_context.h"
#include "rtseg/framework/paths.h"
#include "rtseg/sdk/abi.h"

namespace rtseg::cli {

void add_version_command(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("version", "Print versions, the SDK ABI and plugin folders");
  command->callback([&context] {
    std::cout << "rtseg " << RTSEG_VERSION << "\n"
              << "SDK ABI " << sdk::kAbiMajor << "." << sdk::kAbiMinor << "\n"
              << "build fingerprint: " << sdk::host_build_fingerprint() << "\n"
              << "LibTorch " << TORCH_VERSION << "\n"
              << "plugin folders:";
    for (const auto& path : framework::default_plugin_paths()) std::cout << " " << path.string();
    for (const auto& path : context.plugin_dirs) std::cout << " " << path;
    std::cout << "\n";
  });
}

}  // namespace rtseg::cli
