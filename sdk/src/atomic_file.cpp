#include "rtseg/sdk/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "rtseg/sdk/errors.h"

namespace rtseg::sdk {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  // Hidden, and unique per process and call, so concurrent writers never share a temporary.
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temporary_ = target_;
    temporary_.replace_filename("." + target_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
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
