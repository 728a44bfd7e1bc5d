#include "rtseg/sdk/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "rtseg/sdk/errors.h"

namespace rtseg::sdk {

namespace fs = std::filesystem;

namespace {

constexpr const char* kTemporaryMark = ".tmp-";

// The writer's pid in a temporary's name ".<name>.tmp-<pid>-<n>", or 0 when it is not one.
pid_t temporary_owner(const std::string& name) {
  const std::size_t mark = name.rfind(kTemporaryMark);
  if (name.empty() || name[0] != '.' || mark == std::string::npos || mark < 2) return 0;
  const std::string tail = name.substr(mark + std::strlen(kTemporaryMark));
  const std::size_t dash = tail.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == tail.size() ||
      tail.find_first_not_of("0123456789-") != std::string::npos || tail.find('-', dash + 1) != std::string::npos) {
    return 0;
  }
  return static_cast<pid_t>(std::strtol(tail.substr(0, dash).c_str(), nullptr, 10));
}

// Each folder once per process: the first write into it clears what killed writers left there.
void clear_folder_once(const fs::path& folder) {
  static std::mutex mutex;
  static std::set<std::string> cleared;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!cleared.insert(folder.string()).second) return;
  }
  remove_stale_temporaries(folder);
}

// RTSEG_TEST_KILL_IN_WRITE=<file name>:<n> (test-only, see the header).
bool killed_here_for_tests(const fs::path& target) {
  const char* setting = std::getenv("RTSEG_TEST_KILL_IN_WRITE");
  if (!setting || !*setting) return false;
  const std::string text = setting;
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || text.substr(0, colon) != target.filename().string()) return false;
  static std::mutex mutex;
  static std::map<std::string, long> commits;
  std::lock_guard<std::mutex> lock(mutex);
  return ++commits[target.filename().string()] == std::strtol(text.c_str() + colon + 1, nullptr, 10);
}

}  // namespace

std::vector<fs::path> remove_stale_temporaries(const fs::path& folder) {
  std::vector<fs::path> removed;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    const pid_t owner = temporary_owner(it->path().filename().string());
    if (owner <= 0 || owner == ::getpid()) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // still running (or not ours to ask)
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) removed.push_back(it->path());
  }
  return removed;
}

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  clear_folder_once(target_.has_parent_path() ? target_.parent_path() : fs::path("."));
  // Hidden, and unique per process and call, so concurrent writers never share a temporary.
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temporary_ = target_;
    temporary_.replace_filename("." + target_.filename().string() + kTemporaryMark + std::to_string(::getpid()) + "-" +
                                std::to_string(counter++));
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || attempt >= 100)) fail("create a temporary file beside it");
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_.c_str());
}

void AtomicFile::fail(const char* step) {
  const std::string reason = std::strerror(errno);
  throw Error(target_.string() + ": cannot write (" + step + ": " + reason + ")");
}

void AtomicFile::write(const void* data, std::uint64_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, bytes, std::min<std::uint64_t>(size, std::uint64_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    bytes += n;
    size -= static_cast<std::uint64_t>(n);
  }
}

void AtomicFile::commit() {
  if (killed_here_for_tests(target_)) {
    const off_t size = ::lseek(fd_, 0, SEEK_END);
    if (::ftruncate(fd_, size / 2) == 0) ::fsync(fd_);
    ::kill(::getpid(), SIGKILL);
  }
  if (::fsync(fd_) != 0) fail("sync");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close");
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("rename");
  committed_ = true;
  // Make the rename durable. Some file systems cannot sync a folder (EINVAL, ENOTSUP); the new
  // file is already in place, so that is not an error.
  const fs::path folder = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomically(const fs::path& file, std::string_view contents) {
  AtomicFile out(file);
  out.write(contents.data(), contents.size());
  out.commit();
}

}  // namespace rtseg::sdk
