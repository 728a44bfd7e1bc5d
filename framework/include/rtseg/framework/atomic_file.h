#pragma once

#include <filesystem>
#include <string_view>

namespace rtseg::framework {

/// Writes `contents` to `file` so that a reader (or a crash) sees either the old file or the new
/// one, never a part: a temporary file in the same folder, fsync, rename, fsync of the folder.
/// Throws sdk::Error naming the file when anything fails (the temporary file is removed).
void write_file_atomically(const std::filesystem::path& file, std::string_view contents);

}  // namespace rtseg::framework
