// rtseg: trains, evaluates and runs RT-DETR-Seg models from TOML recipes and plugins.
#include <iostream>

#include <c10/util/Exception.h>

#include "cli_context.h"
#include "rtseg/framework/cpu_threads.h"
#include "rtseg/sdk/errors.h"

namespace {

// Exit codes: 0 success, 1 runtime failure, 2 usage or recipe error.
constexpr int kRuntimeFailure = 1;
constexpr int kUsageError = 2;

int report(const std::string& message, int code) {
  std::cerr << "error: " << message << "\n";
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
