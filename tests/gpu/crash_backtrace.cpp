// On the GPU machine a crash leaves only "Segmentation fault" in the results: print where it
// happened -- the faulting instruction and address, the library mapped there (none: code that
// was unloaded), and the stack the unwinder can walk -- then die as the signal would have.
#include <execinfo.h>
#include <fcntl.h>
#include <ucontext.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <initializer_list>

namespace {

void write_text(const char* text, std::size_t length) { (void)!write(STDERR_FILENO, text, length); }

// The /proc/self/maps lines that contain `address` (async-signal-safe: read, no allocation).
void print_mapping_of(std::uintptr_t address) {
  const int maps = open("/proc/self/maps", O_RDONLY);
  if (maps < 0) return;
  char buffer[8192], line[1024];
  std::size_t used = 0;
  bool found = false;
  for (ssize_t got; (got = read(maps, buffer, sizeof buffer)) > 0;) {
    for (ssize_t i = 0; i < got; ++i) {
      if (buffer[i] != '\n' && used + 1 < sizeof line) { line[used++] = buffer[i]; continue; }
      line[used] = '\0';
      unsigned long begin = 0, end = 0;
      if (std::sscanf(line, "%lx-%lx", &begin, &end) == 2 && address >= begin && address < end) {
        write_text("  mapped: ", 10);
        write_text(line, used);
        write_text("\n", 1);
        found = true;
      }
      used = 0;
    }
  }
  close(maps);
  if (!found) write_text("  mapped: nothing (unmapped memory: code or data of an unloaded library?)\n", 74);
}

void print_backtrace_and_die(int signal, siginfo_t* info, void* context) {
  char text[160];
  std::uintptr_t pc = 0;
#if defined(__x86_64__)
  pc = static_cast<std::uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#endif
  const int length = std::snprintf(text, sizeof text, "\n*** fatal signal %d at pc %#lx, address %p, thread %d\n",
                                   signal, static_cast<unsigned long>(pc), info->si_addr, static_cast<int>(gettid()));
  write_text(text, static_cast<std::size_t>(length));
  // The thread's name: PyTorch names its own (pt_nccl_watchdg, pt_autograd_0, ...).
  const int comm = open("/proc/thread-self/comm", O_RDONLY);
  if (comm >= 0) {
    char name[64];
    const ssize_t got = read(comm, name, sizeof name);
    close(comm);
    write_text("thread name: ", 13);
    if (got > 0) write_text(name, static_cast<std::size_t>(got));
  }
  write_text("instruction:\n", 13);
  print_mapping_of(pc);
  write_text("address:\n", 9);
  print_mapping_of(reinterpret_cast<std::uintptr_t>(info->si_addr));
  void* frames[64];
  const int count = backtrace(frames, 64);
  backtrace_symbols_fd(frames, count, STDERR_FILENO);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

const bool kInstalled = [] {
  struct sigaction action {};
  action.sa_sigaction = print_backtrace_and_die;
  action.sa_flags = SA_SIGINFO;
  for (int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE}) sigaction(signal, &action, nullptr);
  return true;
}();

}  // namespace
