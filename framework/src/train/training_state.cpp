#include "rtseg/framework/train/training_state.h"

#include <map>
#include <sstream>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rtseg/framework/weights.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "optimizer_state_key.h"

namespace rtseg::framework::train {
namespace {

constexpr const char* kProgressKey = "rtseg.progress";
constexpr int kFormat = 1;

std::string moment_name(std::size_t group, std::size_t index, const char* what) {
  return "optim." + std::to_string(group) + "." + std::to_string(index) + "." + what;
}

}  // namespace

void TrainingState::save(const std::filesystem::path& file, const Progress& progress) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model->named_parameters()) tensors.emplace_back("model." + item.key(), item.value().detach());
  for (const auto& item : model->named_buffers()) tensors.emplace_back("model." + item.key(), item.value().detach());
  if (ema) {
    for (auto& [name, tensor] : ema->named_tensors()) tensors.emplace_back("ema." + name, tensor);
  }
  nlohmann::json steps = nlohmann::json::object();
  auto& states = optimizer->state();
  for (std::size_t g = 0; g < groups->size(); ++g) {
    const auto& parameters = (*groups)[g].parameters;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const auto found = states.find(optimizer_state_key(parameters[i]));
      if (found == states.end()) continue;
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
      tensors.emplace_back(moment_name(g, i, "exp_avg"), state.exp_avg());
      tensors.emplace_back(moment_name(g, i, "exp_avg_sq"), state.exp_avg_sq());
      steps[std::to_string(g) + "." + std::to_string(i)] = state.step();
    }
  }
  if (generator) tensors.emplace_back("rng.criterion", generator->get_state());

  nlohmann::json meta = {{"format", kFormat},
                         {"epoch", progress.epoch},
                         {"batch", progress.batch},
                         {"step", progress.step},
                         {"best_metric", progress.best_metric},
                         {"best_epoch", progress.best_epoch},
                         {"epochs_without_improvement", progress.epochs_without_improvement},
                         {"world_size", progress.world_size},
                         {"images_per_batch", progress.images_per_batch},
                         {"ema_updates", ema ? ema->updates() : 0},
                         {"loss_scale", scaler ? scaler->current_scale() : 1.0},
                         {"growth_tracker", scaler ? scaler->growth_tracker() : 0},
                         {"adam_steps", steps}};
  sdk::save_safetensors(file, tensors, {{kProgressKey, meta.dump()}});
}

Progress TrainingState::load(const std::filesystem::path& file) const {
  const sdk::SafetensorsFile saved = sdk::SafetensorsFile::open(file);
  const auto found_meta = saved.metadata().find(kProgressKey);
  if (found_meta == saved.metadata().end()) {
    throw sdk::DataError(file.string() + ": not an rtseg training state (no " + kProgressKey + " metadata).");
  }
  const nlohmann::json meta = nlohmann::json::parse(found_meta->second);
  if (meta.value("format", 0) != kFormat) {
    throw sdk::DataError(file.string() + ": training state format " + std::to_string(meta.value("format", 0)) +
                         ", this rtseg reads format " + std::to_string(kFormat) + ".");
  }
  torch::NoGradGuard no_grad;
  // Model: every parameter and buffer must be there with its shape.
  for (const auto& item : model->named_parameters()) item.value().detach().copy_(saved.get("model." + item.key()));
  for (const auto& item : model->named_buffers()) item.value().detach().copy_(saved.get("model." + item.key()));
  if (ema) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& [name, tensor] : ema->named_tensors()) tensors.emplace_back(name, saved.get("ema." + name));
    ema->load(tensors, meta.value("ema_updates", std::int64_t{0}));
  }
  const nlohmann::json& steps = meta["adam_steps"];
  auto& states = optimizer->state();
  for (std::size_t g = 0; g < groups->size(); ++g) {
    const auto& parameters = (*groups)[g].parameters;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const std::string key = std::to_string(g) + "." + std::to_string(i);
      if (!steps.contains(key)) continue;
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(steps[key].get<std::int64_t>());
      state->exp_avg(saved.get(moment_name(g, i, "exp_avg")).to(parameters[i].device()).clone());
      state->exp_avg_sq(saved.get(moment_name(g, i, "exp_avg_sq")).to(parameters[i].device()).clone());
      states[optimizer_state_key(parameters[i])] = std::move(state);
    }
  }
  if (generator && saved.contains("rng.criterion")) generator->set_state(saved.get("rng.criterion").clone());
  if (scaler) scaler->load(meta.value("loss_scale", 65536.0), meta.value("growth_tracker", std::int64_t{0}));

  Progress progress;
  progress.epoch = meta.value("epoch", std::int64_t{0});
  progress.batch = meta.value("batch", std::int64_t{0});
  progress.step = meta.value("step", std::int64_t{0});
  progress.best_metric = meta.value("best_metric", -1.0);
  progress.best_epoch = meta.value("best_epoch", std::int64_t{-1});
  progress.epochs_without_improvement = meta.value("epochs_without_improvement", std::int64_t{0});
  progress.world_size = meta.value("world_size", std::int64_t{1});
  progress.images_per_batch = meta.value("images_per_batch", std::int64_t{0});
  return progress;
}

std::int64_t remap_data_position(const Progress& saved, std::int64_t world_size, std::int64_t batch,
                                 std::int64_t accum) {
  if (saved.images_per_batch <= 0 || (saved.world_size == world_size && saved.images_per_batch == batch)) {
    return saved.batch;  // the same setup (or a state from before these fields): as saved
  }
  const std::int64_t images_done = saved.batch * saved.images_per_batch * saved.world_size;
  const std::int64_t images_per_step = batch * accum * world_size;
  return images_done / images_per_step * accum;
}

std::int64_t remapped_step(const Progress& remapped, std::int64_t steps_per_epoch, std::int64_t accum) {
  return remapped.epoch * steps_per_epoch + remapped.batch / accum;
}

}  // namespace rtseg::framework::train
