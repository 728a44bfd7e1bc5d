#include "rtseg/framework/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw sdk::Error("cannot write " + file.string() + ": " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view contents) {
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : ".";
  std::string temporary = (folder / ("." + file.filename().string() + ".tmpXXXXXX")).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) fail(file, "cannot create a temporary file");
  auto abandon = [&](const std::string& what) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    errno = saved;
    fail(file, what);
  };
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) abandon("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(temporary.c_str());
    fail(file, "close failed");
  }
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    errno = saved;
    fail(file, "rename failed");
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems do not support it on folders
    ::close(dir);
  }
}

}  // namespace rtseg::framework
