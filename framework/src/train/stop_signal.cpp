#include "rtseg/framework/train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace rtseg::framework::train {
namespace {

std::atomic<int> g_requested{0};
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_signal(int signal_number) {
  if (g_requested.load() != 0) {
    // A second signal (Ctrl-C twice, or a job manager's SIGTERM after it): the default action
    // (terminate) right away. The last complete checkpoint stays as it was: every write is atomic.
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_requested.store(signal_number);
}

}  // namespace

StopSignal::StopSignal() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int StopSignal::requested() { return g_requested.load(); }
void StopSignal::request(int signal_number) { g_requested.store(signal_number); }
void StopSignal::reset() { g_requested.store(0); }

}  // namespace rtseg::framework::train
