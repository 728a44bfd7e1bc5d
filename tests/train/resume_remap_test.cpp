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

// The schedule and max_steps read the step counter: after a re-map it counts the new setup's
// steps, so a resume on 4 ranks is at the same point of its schedule as the 1-rank run was.
TEST(ResumeRemap, TheStepCounterCountsTheNewSetupsSteps) {
  // 1 rank x batch 4, 100 steps per epoch, stopped in epoch 5 (0-based 4) after 50 steps of it:
  // step 450. On 4 ranks x batch 4 there are 25 steps per epoch; the 200 images of the epoch done
  // are 12 whole steps (12 loader batches per rank, accum 1).
  Progress saved = saved_at(50, 1, 4);
  saved.epoch = 4;
  saved.step = 450;
  Progress resumed = saved;
  resumed.batch = remap_data_position(saved, 4, 4, 1);
  ASSERT_EQ(resumed.batch, 12);
  EXPECT_EQ(remapped_step(resumed, 25, 1), 4 * 25 + 12);
  // The other way, with accumulation: 1 rank x batch 2 x accum 2 has 100 steps per epoch; the
  // epoch's 200 images are 50 steps = 100 loader batches.
  Progress back = saved_at(12, 4, 4);
  back.epoch = 4;
  back.batch = remap_data_position(back, 1, 2, 2);
  ASSERT_EQ(back.batch, 96);  // 192 images: 48 steps of 4
  EXPECT_EQ(remapped_step(back, 100, 2), 4 * 100 + 48);
}

}  // namespace
}  // namespace rtseg::framework::train
