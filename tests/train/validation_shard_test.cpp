// The byte form in which ranks send their validation detections to rank 0.
#include "rtseg/framework/distributed/validation_shard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::distributed {
namespace {

ValidationShard sample_shard() {
  ValidationShard shard;
  Detection boxed;
  boxed.image_id = 17;
  boxed.label = 2;
  boxed.score = 0.75f;
  boxed.box_xywh = {1.5, 2.25, 30.0, 40.125};
  Detection masked = boxed;
  masked.image_id = 18;
  masked.score = 0.125f;
  masked.mask = sdk::RunLengths{3, 4, {2, 5, 1, 4}};
  shard.images.push_back({4, {boxed, boxed}});
  shard.images.push_back({0, {}});  // an image without detections still counts as validated
  shard.images.push_back({2, {masked}});
  shard.failed = {6, 8};
  return shard;
}

TEST(ValidationShard, SurvivesTheTripThroughBytes) {
  const ValidationShard shard = sample_shard();
  const ValidationShard back = validation_shard_from_bytes(to_bytes(shard));
  ASSERT_EQ(back.images.size(), 3u);
  EXPECT_EQ(back.failed, (std::vector<std::int64_t>{6, 8}));
  for (std::size_t i = 0; i < shard.images.size(); ++i) {
    EXPECT_EQ(back.images[i].index, shard.images[i].index);
    ASSERT_EQ(back.images[i].detections.size(), shard.images[i].detections.size());
    for (std::size_t d = 0; d < shard.images[i].detections.size(); ++d) {
      const Detection& a = shard.images[i].detections[d];
      const Detection& b = back.images[i].detections[d];
      EXPECT_EQ(b.image_id, a.image_id);
      EXPECT_EQ(b.label, a.label);
      EXPECT_EQ(b.score, a.score);
      EXPECT_EQ(b.box_xywh, a.box_xywh);
      EXPECT_EQ(b.mask, a.mask);
    }
  }
  EXPECT_TRUE(validation_shard_from_bytes(to_bytes(ValidationShard{})).images.empty());
}

TEST(ValidationShard, CutOrPaddedBytesAreRefused) {
  std::vector<std::uint8_t> bytes = to_bytes(sample_shard());
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.end() - 3);
  EXPECT_THAT([&] { validation_shard_from_bytes(cut); },
              ::testing::ThrowsMessage<sdk::Error>(::testing::HasSubstr("malformed detections")));
  bytes.push_back(0);
  EXPECT_THROW(validation_shard_from_bytes(bytes), sdk::Error);
  // A count far beyond the bytes that follow is refused before anything is allocated.
  std::vector<std::uint8_t> huge(8, 0xff);
  EXPECT_THROW(validation_shard_from_bytes(huge), sdk::Error);
}

}  // namespace
}  // namespace rtseg::framework::distributed
