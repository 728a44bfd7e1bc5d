// Files replaced in one step: the new contents or the old, never a part, and no leftovers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <sys/wait.h>
#include <unistd.h>

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

// A pid no process has any more: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// A process killed mid-write leaves its temporary; the next process's first write into that
// folder removes it, and never a live process's temporary (or a file merely named like one).
TEST(AtomicFile, TheNextWriteRemovesTemporariesOfKilledWriters) {
  TempDir dir;
  const std::string dead = std::to_string(dead_pid());
  const auto stale = dir.write(".state.safetensors.tmp-" + dead + "-3", "half a checkpoint");
  const auto live = dir.write(".state.safetensors.tmp-" + std::to_string(::getppid()) + "-0", "being written");
  const auto look_alike = dir.write(".notes.tmp-" + dead + "-x", "not ours");
  std::filesystem::create_directories(dir / "sub");
  const auto deeper = dir.write("sub/.a.tmp-" + dead + "-0", "another folder");
  const auto removed = remove_stale_temporaries(dir.path());
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], stale);
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(look_alike));
  EXPECT_TRUE(std::filesystem::exists(deeper));

  write_file_atomically(dir / "sub" / "results.csv", "epoch\n");  // the first write into sub/
  EXPECT_FALSE(std::filesystem::exists(deeper));
  EXPECT_EQ(entries(dir / "sub"), 1u);
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
