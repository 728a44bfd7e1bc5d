#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// A file replaced in one step, so that a reader -- or a run killed midway -- sees either the old
/// file or the whole new one, never a part: the bytes go to a hidden temporary file beside the
/// target (same file system, so the rename is atomic), are synced to disk, renamed over the
/// target, and the folder is synced so the rename itself survives a crash. The one way rtseg
/// writes files that are rewritten whole (checkpoints, weights, pictures, CSV, JSON).
///
/// Errors throw sdk::Error "<target>: cannot write (<step>: <system reason>)"; the temporary
/// file is removed whenever commit() has not completed, and the target is left untouched. A
/// process killed mid-write cannot remove its temporary: the first AtomicFile of a later process
/// in the same folder removes such leftovers (remove_stale_temporaries).
///
/// Test-only: RTSEG_TEST_KILL_IN_WRITE=<file name>:<n> makes the n-th commit() of a file of that
/// name in this process cut its temporary to half and kill the process (SIGKILL) before the
/// rename -- a deterministic "killed while writing a checkpoint" for the resume tests.
class RTSEG_SDK_API AtomicFile {
 public:
  /// Creates the temporary file (mode 0644) beside `target`.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::uint64_t size);
  /// Syncs, renames over the target and syncs the folder.
  void commit();

  const std::filesystem::path& target() const { return target_; }

 private:
  [[noreturn]] void fail(const char* step);

  std::filesystem::path target_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

/// AtomicFile in one call.
RTSEG_SDK_API void write_file_atomically(const std::filesystem::path& file, std::string_view contents);

/// Removes the temporaries (".<name>.tmp-<pid>-<n>") that processes no longer running on this
/// machine left in `folder` (not its subfolders) when they were killed mid-write; a live
/// process's, this one's included, are kept. Returns the files removed.
RTSEG_SDK_API std::vector<std::filesystem::path> remove_stale_temporaries(const std::filesystem::path& folder);

}  // namespace rtseg::sdk
