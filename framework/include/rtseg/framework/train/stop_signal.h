#pragma once

namespace rtseg::framework::train {

/// SIGINT / SIGTERM handling while alive: the first signal asks the trainer to stop at the next
/// step boundary (it saves its state and `rtseg train` exits with 128 + the signal: 130 for
/// SIGINT, 143 for SIGTERM); a second signal of either kind ends the process at once, as users
/// expect from Ctrl-C pressed twice. The previous handlers are restored on destruction.
class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  /// The signal received (SIGINT or SIGTERM), or 0.
  static int requested();
  /// For tests and for stopping from code (e.g. a max-steps limit is not a signal).
  static void request(int signal_number);
  static void reset();
};

}  // namespace rtseg::framework::train
