#include <gtest/gtest.h>

#include "rtseg/framework/train/training_state.h"

namespace rtseg::framework::train {
namespace {

Progress saved_at(std::int64_t batch_position, std::int64_t world, std::int64_t images_per_batch) {
  Progress p;
  p.batch = batch_position;
  p.world_size = world;
  p.images_per_batch = images_per_batch;
  return p;
}

TEST(ResumeRemap, TheSameSetupContinuesWhereItStopped) {
  EXPECT_EQ(remap_data_position(saved_at(6, 2, 4), 2, 4, 2), 6);
  EXPECT_EQ(remap_data_position(saved_at(6, 1, 0), 4, 4, 2), 6);  // a state from before the fields
}

TEST(ResumeRemap, AnotherWorldContinuesAtTheSameImageOfTheEpoch) {
  // 2 ranks x batch 4, 6 loader batches done each: 48 images. 1 rank x batch 4 x accum 2 (8 per
  // step): 6 steps = 12 loader batches.
  EXPECT_EQ(remap_data_position(saved_at(6, 2, 4), 1, 4, 2), 12);
  // 4 ranks x batch 4 x accum 2 = 32 per step: one whole step (32 images), i.e. 2 loader batches;
  // the 16 images beyond are trained again rather than skipped.
  EXPECT_EQ(remap_data_position(saved_at(6, 2, 4), 4, 4, 2), 2);
  // A smaller per-rank batch (after --oom retry): batch 2 x accum 1 on 2 ranks = 4 per step.
  EXPECT_EQ(remap_data_position(saved_at(6, 2, 4), 2, 2, 1), 12);
}

}  // namespace
}  // namespace rtseg::framework::train
