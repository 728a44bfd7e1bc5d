// Two real processes as the ranks of one c10d group (Gloo over loopback): a test starts two
// copies of the test program, which run only Distributed.Rank (distributed_test.cpp); that test
// joins the group and runs the role the parent named. Roles register themselves by name.
#pragma once

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "rtseg/framework/distributed/process_group.h"

extern char** environ;

namespace rtseg::testing {

constexpr int kWorld = 2;

/// What a rank runs: its group and the parent's output folder.
struct RankRole {
  std::function<void(framework::distributed::ProcessGroup& group, const std::filesystem::path& out)> body;
  /// The group's collective timeout: longer for roles whose ranks wait for each other long.
  std::chrono::seconds timeout{5};
};

inline std::map<std::string, RankRole>& rank_roles() {
  static std::map<std::string, RankRole> roles;
  return roles;
}

/// At namespace scope: `const RankRoleRegistration kX("name", {body});`.
struct RankRoleRegistration {
  RankRoleRegistration(const std::string& name, RankRole role) { rank_roles()[name] = std::move(role); }
};

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

/// Starts this test program as rank `rank` of a `role` run; returns its pid.
inline pid_t spawn_rank(int rank, int port, const std::string& role, const std::filesystem::path& out) {
  std::vector<std::string> variables;
  for (char** e = environ; *e; ++e) variables.emplace_back(*e);
  for (const std::string& v : {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(kWorld),
                               "LOCAL_RANK=" + std::to_string(rank), std::string("MASTER_ADDR=127.0.0.1"),
                               "MASTER_PORT=" + std::to_string(port), "RTSEG_TEST_DIST_ROLE=" + role,
                               "RTSEG_TEST_DIST_OUT=" + out.string()}) {
    variables.push_back(v);
  }
  std::vector<char*> envp;
  for (std::string& v : variables) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string program = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=Distributed.Rank";
  char* argv[] = {program.data(), filter.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  return pid;
}

/// Exit code of `pid`, or -1 when it is still running after `limit` (then it is killed).
inline int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

/// Runs a `role` with two ranks and returns their exit codes (-1: still running after `limit`).
/// `port` 0: a free one.
inline std::vector<int> run_two_ranks(const std::string& role, const std::filesystem::path& out,
                                      std::chrono::seconds limit = std::chrono::seconds(60), int port = 0) {
  if (port == 0) port = free_port();
  const pid_t first = spawn_rank(0, port, role, out);
  const pid_t second = spawn_rank(1, port, role, out);
  const int second_code = wait_for(second, limit);
  return {wait_for(first, limit), second_code};
}

/// Numbers a rank hands back, one per line, exactly (17 digits).
inline void write_values(const std::filesystem::path& file, const std::vector<double>& values) {
  std::ofstream out(file);
  out.precision(17);
  for (const double v : values) out << v << "\n";
}

inline std::vector<double> read_values(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  return values;
}

}  // namespace rtseg::testing
