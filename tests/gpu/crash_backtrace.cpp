// On the GPU machine a crash leaves only "Segmentation fault" in the results: print where it
// happened (the exported names of LibTorch's and our libraries are enough to find it), then die
// as the signal would have.
#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <initializer_list>

namespace {

void print_backtrace_and_die(int signal) {
  void* frames[64];
  const int count = backtrace(frames, 64);
  static const char kHeader[] = "\n*** fatal signal; backtrace:\n";
  (void)!write(STDERR_FILENO, kHeader, sizeof kHeader - 1);
  backtrace_symbols_fd(frames, count, STDERR_FILENO);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

const bool kInstalled = [] {
  for (int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE}) std::signal(signal, print_backtrace_and_die);
  return true;
}();

}  // namespace
