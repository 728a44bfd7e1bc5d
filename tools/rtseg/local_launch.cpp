#include "local_launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "rtseg/sdk/errors.h"

extern char** environ;

namespace rtseg::cli {
namespace {

// A port the kernel has just handed out on loopback (free a moment ago).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) throw sdk::Error("--nproc: no free TCP port on 127.0.0.1 for the rendezvous; set MASTER_PORT.");
  return ntohs(address.sin_port);
}

// argv without "--nproc N" / "--nproc=N".
std::vector<std::string> without_nproc(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") {
      ++i;
      continue;
    }
    if (argv[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(argv[i]);
  }
  return out;
}

volatile std::sig_atomic_t g_signal_to_pass_on = 0;

void remember_signal(int signal_number) { g_signal_to_pass_on = signal_number; }

// After a rank failed, how long the others have to stop on SIGTERM (save their state) before
// they are killed: a rank blocked in a collective whose peer is gone may never get to its check.
constexpr auto kGraceAfterFailure = std::chrono::seconds(30);

// Waits for every rank, passing SIGINT/SIGTERM on to them. When one fails the others get SIGTERM,
// and SIGKILL after the grace period. Returns the first failure's exit code, or 0.
int wait_for_ranks(std::vector<pid_t> running) {
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous_int {}, previous_term {};
  ::sigaction(SIGINT, &action, &previous_int);
  ::sigaction(SIGTERM, &action, &previous_term);

  int result = 0;
  int passed_on = 0;  // the signal passed on to the ranks, if any
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  while (!running.empty()) {
    if (const int signal_number = g_signal_to_pass_on) {
      g_signal_to_pass_on = 0;
      passed_on = signal_number;
      for (const pid_t pid : running) ::kill(pid, signal_number);
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      std::cerr << "the other ranks did not stop within " << kGraceAfterFailure.count() << " s; killing them\n";
      for (const pid_t pid : running) ::kill(pid, SIGKILL);
      kill_at.reset();
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    running.erase(std::remove(running.begin(), running.end(), pid), running.end());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (code != 0 && result == 0) {
      result = code;
      // A rank that stopped on the signal passed on is not a failure: the others stop at the same
      // step by themselves (a second SIGTERM would end them at once).
      if (passed_on != 0 && code == 128 + passed_on) continue;
      std::cerr << "a rank (pid " << pid << ") ended with code " << code << "; stopping the others\n";
      for (const pid_t other : running) ::kill(other, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + kGraceAfterFailure;
    }
  }
  ::sigaction(SIGINT, &previous_int, nullptr);
  ::sigaction(SIGTERM, &previous_term, nullptr);
  return result;
}

}  // namespace

int launch_local_workers(int nproc, const std::vector<std::string>& argv) {
  const std::string port = std::getenv("MASTER_PORT") ? std::getenv("MASTER_PORT") : std::to_string(free_port());
  const std::string addr = std::getenv("MASTER_ADDR") ? std::getenv("MASTER_ADDR") : "127.0.0.1";
  const std::string program = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = without_nproc(argv);
  std::vector<char*> child_argv;
  for (std::string& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);

  // The ranks get their own process group: a Ctrl-C at the terminal reaches the launcher only,
  // which passes every signal on exactly once (a second Ctrl-C is then a second one for the
  // ranks too), and so does a SIGTERM sent to the launcher alone (a job manager's).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> variables;
    const auto set_here = [](const std::string& v) {
      for (const char* name : {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
                               "MASTER_PORT="}) {
        if (v.rfind(name, 0) == 0) return true;
      }
      return false;
    };
    for (char** e = environ; *e; ++e) {
      if (!set_here(*e)) variables.emplace_back(*e);
    }
    variables.push_back("RANK=" + std::to_string(rank));
    variables.push_back("LOCAL_RANK=" + std::to_string(rank));
    variables.push_back("WORLD_SIZE=" + std::to_string(nproc));
    variables.push_back("LOCAL_WORLD_SIZE=" + std::to_string(nproc));
    variables.push_back("MASTER_ADDR=" + addr);
    variables.push_back("MASTER_PORT=" + port);
    std::vector<char*> envp;
    for (std::string& v : variables) envp.push_back(v.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, program.c_str(), nullptr, &attributes, child_argv.data(), envp.data()) != 0) {
      for (const pid_t started : ranks) ::kill(started, SIGTERM);
      posix_spawnattr_destroy(&attributes);
      throw sdk::Error("--nproc: could not start rank " + std::to_string(rank) + " (" + program + ")");
    }
    ranks.push_back(pid);
  }
  posix_spawnattr_destroy(&attributes);
  std::cerr << "started " << nproc << " ranks on this machine (rendezvous " << addr << ":" << port << ")\n";
  return wait_for_ranks(ranks);
}

}  // namespace rtseg::cli
