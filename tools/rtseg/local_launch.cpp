#include "local_launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

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

}  // namespace

int launch_local_workers(int nproc, const std::vector<std::string>& argv) {
  const std::string port = std::getenv("MASTER_PORT") ? std::getenv("MASTER_PORT") : std::to_string(free_port());
  const std::string addr = std::getenv("MASTER_ADDR") ? std::getenv("MASTER_ADDR") : "127.0.0.1";
  const std::string program = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = without_nproc(argv);
  std::vector<char*> child_argv;
  for (std::string& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);

  std::vector<pid_t> ranks;
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> variables;
    const auto set_here = [](const std::string& v) {
      for (const char* name : {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="}) {
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
    variables.push_back("MASTER_ADDR=" + addr);
    variables.push_back("MASTER_PORT=" + port);
    std::vector<char*> envp;
    for (std::string& v : variables) envp.push_back(v.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, program.c_str(), nullptr, nullptr, child_argv.data(), envp.data()) != 0) {
      for (const pid_t started : ranks) ::kill(started, SIGTERM);
      throw sdk::Error("--nproc: could not start rank " + std::to_string(rank) + " (" + program + ")");
    }
    ranks.push_back(pid);
  }
  std::cerr << "started " << nproc << " ranks on this machine (rendezvous " << addr << ":" << port << ")\n";

  int result = 0;
  for (std::size_t done = 0; done < ranks.size(); ++done) {
    int status = 0;
    const pid_t pid = ::wait(&status);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (code != 0 && result == 0) {
      result = code;
      std::cerr << "a rank (pid " << pid << ") ended with code " << code << "; stopping the others\n";
      for (const pid_t other : ranks) {
        if (other != pid) ::kill(other, SIGTERM);
      }
    }
  }
  return result;
}

}  // namespace rtseg::cli
