// Files replaced in one step: the new contents or the old, never a part, and no leftovers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::sdk {
namespace {

using ::testing::HasSubstr;
using rtseg::testing::TempDir;

std::string read(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::size_t entries(const std::filesystem::path& folder) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(folder), {}));
}

TEST(AtomicFile, ReplacesTheFileWholeAndLeavesNoTemporary) {
  TempDir dir;
  const auto file = dir.path() / "metrics.json";
  write_file_atomically(file, "first");
  write_file_atomically(file, "second, longer");
  EXPECT_EQ(read(file), "second, longer");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, AnAbandonedWriteKeepsTheOldFile) {
  TempDir dir;
  const auto file = dir.path() / "state.bin";
  write_file_atomically(file, "old");
  {
    AtomicFile out(file);
    out.write("new, half written", 9);
    EXPECT_EQ(entries(dir.path()), 2u);  // the hidden temporary beside it
  }  // destroyed without commit(), as when an exception unwinds a writer
  EXPECT_EQ(read(file), "old");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, ErrorsNameTheFileAndTheStep) {
  TempDir dir;
  try {
    write_file_atomically(dir.path() / "missing" / "a.json", "x");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("missing/a.json: cannot write (create a temporary file beside it"));
  }
}

}  // namespace
}  // namespace rtseg::sdk
