// rtseg: trains, evaluates and runs RT-DETR-Seg models from TOML recipes and plugins.
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include <c10/util/Exception.h>

#include "cli_context.h"
#include "rtseg/framework/cpu_threads.h"
#include "rtseg/sdk/errors.h"

namespace {

// Exit codes: 0 success, 1 runtime failure, 2 usage or recipe error.
constexpr int kRuntimeFailure = 1;
constexpr int kUsageError = 2;

// Under torchrun, the error also goes to the file its agent reads (TORCHELASTIC_ERROR_FILE), so
// that the launcher's summary names the failing rank's error instead of "<N/A>".
void tell_the_launcher(const std::string& message) {
  const char* file = std::getenv("TORCHELASTIC_ERROR_FILE");
  if (!file || !*file) return;
  const nlohmann::json error = {{"message", "error: " + message}, {"timestamp", static_cast<std::int64_t>(std::time(nullptr))}};
  std::ofstream(file) << error.dump() << "\n";
}

int report(const std::string& message, int code) {
  std::cerr << "error: " << message << "\n";
  tell_the_launcher(message);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rtseg: real-time instance segmentation (RT-DETR-Seg) on LibTorch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rtseg ") + RTSEG_VERSION);
  rtseg::cli::CliContext context;
  context.argv.assign(argv, argv + argc);
  app.add_option("--plugin-dir", context.plugin_dirs,
                 "Load plugins from this folder too (repeatable; also RTSEG_PLUGIN_PATH)")
      ->type_name("DIR");
  app.add_option("--log-level", context.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  rtseg::cli::add_plugins_command(app, context);
  rtseg::cli::add_recipe_command(app, context);
  rtseg::cli::add_train_command(app, context);
  rtseg::cli::add_evaluate_commands(app, context);
  rtseg::cli::add_plan_command(app, context);
  rtseg::cli::add_data_command(app, context);
  rtseg::cli::add_cocoeval_command(app, context);
  rtseg::cli::add_inspect_command(app, context);
  rtseg::cli::add_version_command(app, context);

  try {
    // Every command computes on all cores (LibTorch's default may be one); training then applies
    // train.threads / --threads.
    rtseg::framework::configure_cpu_threads(0);
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kUsageError;
  } catch (const rtseg::cli::ExitWith& exit) {
    return exit.code;
  } catch (const rtseg::sdk::ConfigError& error) {
    return report(error.what(), kUsageError);
  } catch (const rtseg::sdk::RegistryError& error) {
    return report(error.what(), kUsageError);
  } catch (const c10::Error& error) {
    return report(error.what_without_backtrace(), kRuntimeFailure);
  } catch (const std::exception& error) {
    return report(error.what(), kRuntimeFailure);
  }
}
