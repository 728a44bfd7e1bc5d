// A rank that fails, with real processes (Gloo over loopback; see two_ranks.h): the others stop
// with an error that says where to look, instead of hanging.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/train/run_folder.h"
#include "rtseg/sdk/errors.h"
#include "test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

using rtseg::testing::run_two_ranks;

const rtseg::testing::RankRoleRegistration kDie("die", {[](ProcessGroup& group, const std::filesystem::path& out) {
  if (group.rank() == 1) std::_Exit(0);  // gone without a word
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  try {
    torch::Tensor value = torch::ones({8});
    group.average({value});
    std::ofstream(out / "rank0.txt") << "no error\n";
  } catch (const std::exception& error) {
    std::ofstream(out / "rank0.txt") << "error: " << error.what() << "\n";
    std::_Exit(3);
  }
}});

// Rank 1 is alive but does not answer for longer than the group's timeout (2 s); rank 0 must fail
// within it rather than wait. Rank 1 marks when it wakes, so rank 0 can tell it did not wait.
const rtseg::testing::RankRoleRegistration kHang(
    "hang", {[](ProcessGroup& group, const std::filesystem::path& out) {
               if (group.rank() == 1) {
                 std::this_thread::sleep_for(std::chrono::seconds(6));
                 std::ofstream(out / "rank1_awake.txt") << "awake\n";
                 std::_Exit(0);
               }
               try {
                 torch::Tensor value = torch::ones({8});
                 group.sum(value);
                 std::ofstream(out / "rank0.txt") << "no error\n";
               } catch (const std::exception& error) {
                 const bool waited = std::filesystem::exists(out / "rank1_awake.txt");
                 std::ofstream(out / "rank0.txt") << (waited ? "waited; " : "") << "error: " << error.what() << "\n";
               }
             },
             std::chrono::seconds(2)});

TEST(Distributed, ARankThatDiesMakesTheOthersFailInsteadOfHanging) {
  rtseg::testing::TempDir dir;
  // Rank 1 leaves at once (code 0); rank 0 must fail (code 3), not hang (-1) or succeed.
  EXPECT_THAT(run_two_ranks("die", dir.path()), ::testing::ElementsAre(3, 0));
  std::ifstream in(dir.path() / "rank0.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Named as what it is (the backend's own text only says a connection closed).
  EXPECT_THAT(text, ::testing::StartsWith("error: distributed training, rank 0 of 2: "));
  EXPECT_THAT(text, ::testing::HasSubstr("with the other ranks failed"));
}

TEST(Distributed, ARankThatStopsAnsweringMakesTheOthersFailAfterTheTimeout) {
  rtseg::testing::TempDir dir;
  EXPECT_THAT(run_two_ranks("hang", dir.path()), ::testing::ElementsAre(0, 0));
  const std::string text = rtseg::testing::read_text(dir.path() / "rank0.txt");
  EXPECT_THAT(text, ::testing::StartsWith("error: distributed training, rank 0 of 2: an all-reduce"));
  EXPECT_THAT(text, ::testing::HasSubstr("train.dist_timeout"));
}

// Ranks on other machines see rank 0's run folder through a shared filesystem, which may show a
// new file late: a rank looks again for a while, then says what the run needs.
TEST(Distributed, ARankWaitsForRank0sFolderThenSaysTheFilesystemMustBeShared) {
  rtseg::testing::TempDir dir;
  const std::filesystem::path root = dir.path() / "train_nano_384_1";
  std::thread rank0([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::filesystem::create_directories(root);
    std::ofstream(root / "recipe.toml") << "[model]\n";
  });
  EXPECT_EQ(train::RunFolder::open_from_rank0(root, 1, std::chrono::seconds(20)).root(), root);
  rank0.join();
  EXPECT_THAT([&] { train::RunFolder::open_from_rank0(dir.path() / "elsewhere", 3, std::chrono::milliseconds(300)); },
              ::testing::ThrowsMessage<sdk::ConfigError>(::testing::AllOf(
                  ::testing::HasSubstr("rank 3 cannot see the run folder rank 0 created"),
                  ::testing::HasSubstr("must be on a filesystem every machine mounts at the same path"))));
}

}  // namespace
}  // namespace rtseg::framework::distributed
