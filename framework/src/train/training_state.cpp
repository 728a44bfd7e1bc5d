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

sdk::DataError damaged(const std::filesystem::path& file, const std::string& what) {
  return sdk::DataError(file.string() + ": the training state's " + kProgressKey + " metadata is damaged (" + what +
                        "). Resume from a copy of the run folder, or start the run again.");
}

std::vector<std::int64_t> group_sizes(const std::vector<ParameterGroup>& groups) {
  std::vector<std::int64_t> sizes;
  for (const ParameterGroup& group : groups) sizes.push_back(static_cast<std::int64_t>(group.parameters.size()));
  return sizes;
}

nlohmann::json progress_metadata(const std::filesystem::path& file, const sdk::SafetensorsFile& saved) {
  const auto found = saved.metadata().find(kProgressKey);
  if (found == saved.metadata().end()) {
    throw sdk::DataError(file.string() + ": not an rtseg training state (no " + kProgressKey + " metadata).");
  }
  nlohmann::json meta = nlohmann::json::parse(found->second, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object()) throw damaged(file, "not a JSON object");
  const nlohmann::json format = meta.value("format", nlohmann::json(0));
  if (format != kFormat) {
    throw sdk::DataError(file.string() + ": training state format " + format.dump() +
                         ", this rtseg reads format " + std::to_string(kFormat) + ".");
  }
  return meta;
}

Progress progress_from(const std::filesystem::path& file, const nlohmann::json& meta) {
  Progress progress;
  try {
    progress.epoch = meta.value("epoch", std::int64_t{0});
    progress.batch = meta.value("batch", std::int64_t{0});
    progress.step = meta.value("step", std::int64_t{0});
    progress.best_metric = meta.value("best_metric", -1.0);
    progress.best_epoch = meta.value("best_epoch", std::int64_t{-1});
    progress.epochs_without_improvement = meta.value("epochs_without_improvement", std::int64_t{0});
    progress.world_size = meta.value("world_size", std::int64_t{1});
    progress.images_per_batch = meta.value("images_per_batch", std::int64_t{0});
    progress.seconds = meta.value("seconds", 0.0);
    progress.epoch_loss_sum = meta.value("epoch_loss_sum", 0.0);
    progress.epoch_loss_count = meta.value("epoch_loss_count", std::int64_t{0});
    progress.freeze = meta.value("freeze", std::vector<std::string>{});
  } catch (const nlohmann::json::exception& error) {
    throw damaged(file, error.what());
  }
  if (progress.epoch < 0 || progress.batch < 0 || progress.step < 0 || progress.world_size < 1) {
    throw damaged(file, "a negative position");
  }
  return progress;
}

// The optimizer's groups must be the ones the state was saved with (the same freezes and learning
// rate settings), or its moments would land on the wrong parameters.
void check_groups(const std::filesystem::path& file, const nlohmann::json& meta,
                  const std::vector<ParameterGroup>& groups) {
  if (!meta.contains("group_sizes")) return;  // a state from before the field
  const std::vector<std::int64_t> now = group_sizes(groups);
  std::vector<std::int64_t> saved;
  try {
    saved = meta.at("group_sizes").get<std::vector<std::int64_t>>();
  } catch (const nlohmann::json::exception& error) {
    throw damaged(file, error.what());
  }
  if (saved == now) return;
  std::int64_t saved_total = 0, now_total = 0;
  for (const std::int64_t n : saved) saved_total += n;
  for (const std::int64_t n : now) now_total += n;
  throw sdk::DataError(file.string() + ": the run trained " + std::to_string(saved_total) + " tensors in " +
                       std::to_string(saved.size()) + " optimizer groups; this set-up trains " +
                       std::to_string(now_total) + " in " + std::to_string(now.size()) +
                       ". A resume must keep the run's recipe (freeze, learning rates, model): drop the --set or "
                       "flag that changes them.");
}

// A saved tensor that must have `like`'s shape.
torch::Tensor checked(const std::filesystem::path& file, const sdk::SafetensorsFile& saved, const std::string& name,
                      const torch::Tensor& like) {
  torch::Tensor tensor = saved.get(name);
  if (tensor.sizes() != like.sizes()) {
    std::ostringstream text;
    text << file.string() << ": " << name << " has shape " << tensor.sizes() << " where this model has "
         << like.sizes() << ": the state belongs to another model (a changed recipe?); resume without the changes.";
    throw sdk::DataError(text.str());
  }
  return tensor;
}

void copy_checked(const std::filesystem::path& file, const sdk::SafetensorsFile& saved, const std::string& name,
                  const torch::Tensor& target) {
  target.detach().copy_(checked(file, saved, name, target));
}

// AdamW's moments and step counts, per parameter of each group.
void load_moments(const std::filesystem::path& file, const sdk::SafetensorsFile& saved, const nlohmann::json& meta,
                  const std::vector<ParameterGroup>& groups, torch::optim::Optimizer& optimizer) {
  const nlohmann::json& steps = meta.at("adam_steps");
  auto& states = optimizer.state();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& parameters = groups[g].parameters;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const std::string key = std::to_string(g) + "." + std::to_string(i);
      if (!steps.contains(key)) continue;
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(steps[key].get<std::int64_t>());
      const auto moment = [&](const char* what) {
        return checked(file, saved, moment_name(g, i, what), parameters[i]).to(parameters[i].device()).clone();
      };
      state->exp_avg(moment("exp_avg"));
      state->exp_avg_sq(moment("exp_avg_sq"));
      states[optimizer_state_key(parameters[i])] = std::move(state);
    }
  }
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
                         {"seconds", progress.seconds},
                         {"epoch_loss_sum", progress.epoch_loss_sum},
                         {"epoch_loss_count", progress.epoch_loss_count},
                         {"freeze", progress.freeze},
                         {"group_sizes", group_sizes(*groups)},
                         {"ema_updates", ema ? ema->updates() : 0},
                         {"loss_scale", scaler ? scaler->current_scale() : 1.0},
                         {"growth_tracker", scaler ? scaler->growth_tracker() : 0},
                         {"adam_steps", steps}};
  sdk::save_safetensors(file, tensors, {{kProgressKey, meta.dump()}});
}

Progress TrainingState::load(const std::filesystem::path& file) const {
  const sdk::SafetensorsFile saved = sdk::SafetensorsFile::open(file);
  const nlohmann::json meta = progress_metadata(file, saved);
  const Progress progress = progress_from(file, meta);
  check_groups(file, meta, *groups);
  try {
    torch::NoGradGuard no_grad;
    // Model: every parameter and buffer must be there with its shape.
    for (const auto& item : model->named_parameters()) copy_checked(file, saved, "model." + item.key(), item.value());
    for (const auto& item : model->named_buffers()) copy_checked(file, saved, "model." + item.key(), item.value());
    if (ema) {
      std::vector<std::pair<std::string, torch::Tensor>> tensors;
      for (const auto& [name, tensor] : ema->named_tensors()) {
        tensors.emplace_back(name, checked(file, saved, "ema." + name, tensor));
      }
      ema->load(tensors, meta.value("ema_updates", std::int64_t{0}));
    }
    load_moments(file, saved, meta, *groups, *optimizer);
    if (generator && saved.contains("rng.criterion")) generator->set_state(saved.get("rng.criterion").clone());
    if (scaler) scaler->load(meta.value("loss_scale", 65536.0), meta.value("growth_tracker", std::int64_t{0}));
  } catch (const nlohmann::json::exception& error) {
    throw damaged(file, error.what());
  }
  return progress;
}

Progress read_progress(const std::filesystem::path& file) {
  const sdk::SafetensorsFile saved = sdk::SafetensorsFile::open(file);
  return progress_from(file, progress_metadata(file, saved));
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
