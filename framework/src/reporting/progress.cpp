#include "rtseg/framework/reporting/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <utility>

#include <sys/ioctl.h>
#include <unistd.h>

namespace rtseg::framework::reporting {
namespace {

std::string printf_string(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr const char* kEraseLine = "\r\033[K";  // carriage return, erase to the end of the line

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long total = std::llround(seconds);
  char text[48];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", total / 60, total % 60);
  }
  return text;
}

std::string format_bytes(double bytes) {
  constexpr double kKiB = 1024.0, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
  if (bytes >= kGiB) return printf_string("%.1fG", bytes / kGiB);
  if (bytes >= kMiB) return printf_string("%.0fM", bytes / kMiB);
  return printf_string("%.0fK", bytes / kKiB);
}

ProgressBar::ProgressBar(std::ostream& out, ProgressOptions options, Clock clock)
    : out_(out), options_(options), clock_(clock ? std::move(clock) : Clock(steady_seconds)) {}

bool ProgressBar::stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

int ProgressBar::stderr_columns() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

void ProgressBar::start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t steps_in_epoch) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_in_epoch_ = steps_in_epoch;
  epoch_start_ = clock_();
  last_output_ = epoch_start_;
  last_output_step_ = 0;
  sample_ = ProgressSample{};
}

std::string ProgressBar::counters() const {
  const double seconds = elapsed();
  const double steps = static_cast<double>(sample_.steps_done);
  std::string text;
  if (seconds > 0 && sample_.steps_done > 0) {
    text += printf_string("%.1f it/s ", steps / seconds);
    text += printf_string("%.1f img/s ", static_cast<double>(sample_.images_done) / seconds);
  } else {
    text += "? it/s ? img/s ";
  }
  text += printf_string("loss %.4g ", sample_.loss) + printf_string("lr %.1e", sample_.lr);
  if (sample_.memory_bytes >= 0) text += " mem " + format_bytes(sample_.memory_bytes);
  return text;
}

double ProgressBar::epoch_seconds_left() const {
  if (sample_.steps_done <= 0) return -1;
  return elapsed() / static_cast<double>(sample_.steps_done) *
         static_cast<double>(steps_in_epoch_ - sample_.steps_done);
}

std::string ProgressBar::epoch_label() const {
  return "epoch " + std::to_string(epoch_) + "/" + std::to_string(epochs_);
}

std::string ProgressBar::status_line() const {
  return epoch_label() + " step " + std::to_string(sample_.steps_done) + "/" + std::to_string(steps_in_epoch_) +
         " " + counters() + " ETA " + format_duration(epoch_seconds_left());
}

void ProgressBar::update(const ProgressSample& sample) {
  sample_ = sample;
  const double now = clock_();
  const bool last_step = sample.steps_done >= steps_in_epoch_;
  if (options_.tty) {
    if (line_drawn_ && !last_step && now - last_output_ < options_.redraw_seconds) return;
    const double fraction = steps_in_epoch_ > 0 ? std::clamp(static_cast<double>(sample.steps_done) /
                                                                 static_cast<double>(steps_in_epoch_), 0.0, 1.0)
                                                : 0.0;
    const int filled = static_cast<int>(fraction * options_.bar_width);
    std::string line = epoch_label() + " |" + std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(options_.bar_width - filled), ' ') + "| " +
                       std::to_string(sample.steps_done) + "/" + std::to_string(steps_in_epoch_) + " " +
                       counters() + " ETA " + format_duration(epoch_seconds_left());
    // One column short of the width: writing the last column makes some terminals wrap.
    if (options_.max_line_width > 1) line.resize(std::min<std::size_t>(line.size(), options_.max_line_width - 1));
    out_ << kEraseLine << line << std::flush;
    line_drawn_ = true;
    last_output_ = now;
    return;
  }
  if (sample.steps_done - last_output_step_ >= options_.plain_every_steps ||
      now - last_output_ >= options_.plain_every_seconds) {
    out_ << status_line() << "\n" << std::flush;
    last_output_ = now;
    last_output_step_ = sample.steps_done;
  }
}

void ProgressBar::end_epoch() {
  clear();
  const double seconds = elapsed();
  const double remaining_epochs = static_cast<double>(std::max<std::int64_t>(0, epochs_ - epoch_));
  out_ << epoch_label() << " done in " << format_duration(seconds) << ": "
       << sample_.steps_done << " steps " << counters() << ", about " << format_duration(seconds * remaining_epochs)
       << " left\n"
       << std::flush;
  last_output_ = clock_();
}

void ProgressBar::clear() {
  if (!line_drawn_) return;
  out_ << kEraseLine << std::flush;
  line_drawn_ = false;
}

}  // namespace rtseg::framework::reporting
