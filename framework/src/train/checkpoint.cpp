// The training state on disk: saved at each epoch's end, every train.checkpoint_every within an
// epoch and on a stop signal; loaded by --resume, which says what it found.
#include <sys/stat.h>

#include <ctime>

#include <spdlog/spdlog.h>

#include "rtseg/sdk/atomic_file.h"
#include "stage_trainer.h"

namespace rtseg::framework::train {
namespace {

// "2024-05-01 14:03:12" (local time), when a file was last written.
std::string modified_time(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return "?";
  std::tm local {};
  localtime_r(&info.st_mtime, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

}  // namespace

void StageTrainer::save_state(std::int64_t epoch, std::int64_t batch) {
  Progress progress = progress_;
  progress.epoch = epoch;
  progress.batch = batch;
  progress.world_size = group_ ? group_->world_size() : 1;
  progress.images_per_batch = batch_;
  progress.seconds = seconds_since(start_);
  progress.epoch_loss_sum = batch > 0 ? epoch_loss_sum_ : 0.0;  // an epoch's end starts the next at 0
  progress.epoch_loss_count = batch > 0 ? epoch_loss_count_ : 0;
  progress.freeze = setup_.freeze;
  TrainingState state{&model_, optimizer_.get(), &groups_, ema_.get(), scaler_.get(), &generator_};
  state.save(setup_.run.state(), progress);
  last_checkpoint_ = std::chrono::steady_clock::now();
}

void StageTrainer::maybe_checkpoint(std::int64_t epoch, std::int64_t batch) {
  const std::int64_t steps = options_.checkpoint_every_steps;
  const double minutes = options_.checkpoint_every_minutes;
  const bool by_steps = steps > 0 && progress_.step % steps == 0;
  const bool by_time = minutes > 0 && seconds_since(last_checkpoint_) >= 60 * minutes;
  if (!by_steps && !by_time) return;
  const auto begin = std::chrono::steady_clock::now();
  save_state(epoch, batch);
  setup_.logger->debug("checkpoint: epoch {}, step {} ({:.1f} s)", epoch + 1, progress_.step, seconds_since(begin));
}

bool StageTrainer::load_state() {
  auto& log = *setup_.logger;
  if (main_) {
    // What writes killed mid-way left (hidden temporaries beside the files they were replacing).
    for (const auto& folder : {setup_.run.root(), setup_.run.root() / "weights", setup_.run.predictions()}) {
      temporaries_removed_ += static_cast<std::int64_t>(sdk::remove_stale_temporaries(folder).size());
    }
  }
  TrainingState state{&model_, optimizer_.get(), &groups_, ema_.get(), scaler_.get(), &generator_};
  progress_ = state.load(setup_.run.state());
  start_ -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(progress_.seconds));
  if (!main_) generator_.set_current_seed(criterion_seed(options_.seed, group_, progress_.step));
  const std::int64_t world = group_ ? group_->world_size() : 1;
  if (progress_.images_per_batch <= 0 || (progress_.world_size == world && progress_.images_per_batch == batch_)) {
    return false;
  }
  log.warn("resuming with {} rank(s) x batch {} x accum {} (effective batch {}) where the run had {} rank(s) x "
           "batch {}: continuing at the same image of the epoch, the schedule at the same point of the epoch",
           world, batch_, accum_, world * batch_ * accum_, progress_.world_size, progress_.images_per_batch);
  progress_.batch = remap_data_position(progress_, world, batch_, accum_);
  return true;
}

// What the resume found: the checkpoint's place and time, how far the run had got past it (the
// steps trained again), and the leftovers of interrupted writes it removed.
void StageTrainer::report_resume(std::int64_t reached_step) const {
  const std::string place =
      progress_.batch == 0
          ? fmt::format("the end of epoch {}", progress_.epoch)
          : fmt::format("epoch {} after {} of its batches", progress_.epoch + 1, progress_.batch);
  std::string after;
  if (reached_step > progress_.step) {
    after = fmt::format("; the run had reached step {}, so {} step(s) are trained again", reached_step,
                        reached_step - progress_.step);
  }
  const std::string removed =
      temporaries_removed_ > 0
          ? fmt::format("; removed {} unfinished temporary file(s) of interrupted writes", temporaries_removed_)
          : std::string();
  setup_.logger->info("resuming {} from its checkpoint at {}, step {} (saved {}){}{}", setup_.run.root().string(),
                      place, progress_.step, modified_time(setup_.run.state()), after, removed);
  if (progress_.epoch >= options_.epochs) {
    setup_.logger->info("the run has finished its {} epochs; raise --epochs (train.epochs) to train longer",
                        options_.epochs);
  }
}

}  // namespace rtseg::framework::train
