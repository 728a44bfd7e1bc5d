// The shipped training flows (recipes/pipelines) at test size, run as users run them: a real
// `rtseg train` process on the synthetic dataset written to disk by `rtseg data synth`.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

extern char** environ;

namespace rtseg::testing {

inline const std::string& rtseg_binary() {
  static const std::string binary = std::string(RTSEG_BINARY_DIR) + "/bin/rtseg";
  return binary;
}

inline std::string pipeline_recipe(const std::string& name) {
  return std::string(RTSEG_SOURCE_DIR) + "/recipes/pipelines/" + name;
}

/// Flags that shrink a shipped recipe to a 2-layer ViT at 64 px and a 1-layer decoder (seconds
/// per run on one thread), 2 epochs, with checkpoints every 2 steps.
inline std::string tiny_settings(const std::filesystem::path& data, const std::filesystem::path& runs) {
  std::string text = "--data " + data.string() + " --output_dir " + runs.string() +
                     " --resolution 64 --num_queries 10 --epochs 2 --threads 1 --workers 0 --no_tensorboard"
                     " --set train.checkpoint_every='2 steps'";
  for (const char* value : {"model.num_select=10", "model.hidden_dim=32", "model.backbone.hidden_size=32",
                            "model.backbone.num_heads=2", "model.backbone.num_layers=2", "model.backbone.patch_size=8",
                            "model.backbone.num_windows=1", "model.backbone.positional_encoding_size=8",
                            "model.backbone.out_feature_indexes=[1,2]", "model.decoder.dec_layers=1",
                            "model.decoder.sa_nheads=2", "model.decoder.ca_nheads=2",
                            "model.decoder.dim_feedforward=64", "model.decoder.group_detr=2"}) {
    text += std::string(" --set '") + value + "'";
  }
  return text;
}

/// `rtseg ARGUMENTS` in the background, its output in `log`; `environment` (NAME=VALUE ...) is
/// added to the process's. Returns the process id (-1 when it could not start).
inline pid_t start_rtseg(const std::string& arguments, const std::filesystem::path& log,
                         const std::string& environment = "") {
  const std::string command =
      "exec env " + environment + " " + rtseg_binary() + " " + arguments + " > " + log.string() + " 2>&1";
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return -1;
  return pid;
}

/// The exit code, or 128 + the signal that ended the process (as a shell reports it).
inline int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rtseg::testing
