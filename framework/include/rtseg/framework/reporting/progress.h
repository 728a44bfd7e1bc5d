#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace rtseg::framework::reporting {

struct ProgressOptions {
  bool tty = false;                 ///< redraw one line in place (true) or print plain lines
  double redraw_seconds = 0.1;      ///< TTY: at most one redraw per this many seconds
  std::int64_t plain_every_steps = 50;  ///< plain: a line every this many steps ...
  double plain_every_seconds = 30.0;    ///< ... or when this many seconds passed since the last one
  int bar_width = 20;               ///< characters between the bar's '|'
  int max_line_width = 0;  ///< TTY: cut the line to this many characters (0: never); a line
                           ///< wider than the terminal would wrap and break the redraw
};

/// What the trainer knows after a step; plain numbers, so that reporting never syncs a device.
struct ProgressSample {
  std::int64_t steps_done = 0;   ///< optimizer steps done in this epoch
  std::int64_t images_done = 0;  ///< images seen in this epoch
  double loss = 0;               ///< the loss to show (e.g. the epoch's running mean)
  double lr = 0;                 ///< learning rate (first parameter group)
  double memory_bytes = -1;      ///< device memory in use (peak); negative: not shown
};

/// Training progress on a console. On a TTY one line is redrawn in place,
///   epoch 3/50 |#####     | 120/400 4.1 it/s 16.4 img/s loss 2.31 lr 1.0e-04 mem 3.2G ETA 1:08
/// (rates are averages since the epoch began, the ETA is the epoch's). Otherwise (a log file,
/// CI) a plain line is printed every `plain_every_steps` steps or `plain_every_seconds` seconds.
/// Either way end_epoch() leaves one summary line per epoch. The clock is injectable for tests.
class ProgressBar {
 public:
  using Clock = std::function<double()>;  ///< seconds, monotonic

  ProgressBar(std::ostream& out, ProgressOptions options, Clock clock = {});

  /// Whether stderr is a terminal (the usual value of ProgressOptions::tty).
  static bool stderr_is_tty();
  /// stderr's terminal width in columns, 0 when unknown (the usual value of max_line_width).
  static int stderr_columns();

  void start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t steps_in_epoch);
  void update(const ProgressSample& sample);
  /// Finishes the epoch's line(s) with a summary: time taken, rates, last loss, and the time
  /// left for the remaining epochs at this epoch's pace.
  void end_epoch();
  /// TTY: erases the bar so that a log message can be printed; the next update redraws it.
  void clear();

  /// The current status as one line (no control characters), e.g. for a log file.
  std::string status_line() const;

 private:
  double elapsed() const { return clock_() - epoch_start_; }
  std::string epoch_label() const;  ///< "epoch 3/50"
  std::string counters() const;     ///< rates, loss, lr, memory
  double epoch_seconds_left() const;  ///< negative before the first step

  std::ostream& out_;
  ProgressOptions options_;
  Clock clock_;
  std::int64_t epoch_ = 0, epochs_ = 0, steps_in_epoch_ = 0;
  double epoch_start_ = 0;
  double last_output_ = 0;
  std::int64_t last_output_step_ = 0;
  bool line_drawn_ = false;  ///< TTY: the bar is on screen (no newline after it yet)
  ProgressSample sample_;
};

/// "1:08", "1:02:03" (hours when needed); "?" for a negative or non-finite value.
std::string format_duration(double seconds);
/// "3.2G", "512M", "900K" (binary units).
std::string format_bytes(double bytes);

}  // namespace rtseg::framework::reporting
