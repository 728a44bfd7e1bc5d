#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// A file replaced in one step, so that a reader -- or a run killed midway -- sees either the old
/// file or the whole new one, never a part: the bytes go to a hidden temporary file beside the
/// target (same file system, so the rename is atomic), are synced to disk, renamed over the
/// target, and the folder is synced so the rename itself survives a crash. The one way rtseg
/// writes files that are rewritten whole (checkpoints, weights, pictures, CSV, JSON).
///
/// Errors throw sdk::Error "<target>: cannot write (<step>: <system reason>)"; the temporary
/// file is removed whenever commit() has not completed, and the target is left untouched.
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

}  // namespace rtseg::sdk
