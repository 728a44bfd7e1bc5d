// Validation spread over two real ranks (two_ranks.h) gives rank 0 what one process computes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train/validation.h"
#include "test_support.h"
#include "train/train_test_support.h"
#include "train/two_ranks.h"

namespace rtseg::framework::distributed {
namespace {

// The tiny segmentation model (random weights, fixed seed) and its dataset with 5 validation
// images: two ranks take 3 each, the last one of rank 1 wrapping around to image 0.
struct ValidationSetup {
  std::shared_ptr<Model> model;
  std::shared_ptr<const sdk::Dataset> dataset;
  train::ValidationOptions options;
};

ValidationSetup validation_setup(Runtime& runtime, const std::filesystem::path& runs) {
  LoadedRecipe recipe = rtseg::testing::loaded(rtseg::testing::tiny_recipe(runs, "", true));
  apply_overrides(recipe.document, {{"data.valid_images", "5", ""}});
  Stage stage = expand_stages(recipe).back();
  CheckedRecipe checked = check_recipe(stage.document, runtime.registry());
  ValidationSetup setup;
  sdk::BuildContext context;
  context.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  setup.dataset = build_component<sdk::Dataset>(runtime.registry(), stage.document, *checked.dataset, context);
  const auto classes = static_cast<std::int64_t>(setup.dataset->categories().size());
  apply_overrides(stage.document, {{"model.num_classes", std::to_string(classes), ""}});
  checked = check_recipe(stage.document, runtime.registry());
  torch::manual_seed(77);
  setup.model = build_model(runtime.registry(), stage.document, checked, context);
  setup.options.split = "valid";
  setup.options.resolution = checked.model.resolution;
  setup.options.num_select = checked.model.num_select;
  return setup;
}

// What a validation found, as numbers: the box and mask COCO statistics, the images skipped,
// then every detection in order: image, label, score, box, and its mask -- exactly (size and run
// lengths), or as its area only, which a mask pixel flipped by rounding changes by one.
struct Summary {
  std::vector<double> values;
  std::vector<bool> is_mask_area;  // which values are mask areas
  void add(std::initializer_list<double> more, bool area = false) {
    values.insert(values.end(), more);
    is_mask_area.insert(is_mask_area.end(), more.size(), area);
  }
};

Summary validation_summary(const train::ValidationResult& result, bool exact_masks) {
  Summary summary;
  for (const double stat : result.box.stats) summary.add({stat});
  if (result.mask) {
    for (const double stat : result.mask->stats) summary.add({stat});
  }
  summary.add({static_cast<double>(result.skipped_images), static_cast<double>(result.detections.size())});
  for (const Detection& d : result.detections) {
    summary.add({static_cast<double>(d.image_id), static_cast<double>(d.label), d.score});
    for (const double v : d.box_xywh) summary.add({v});
    if (!d.mask) continue;
    if (exact_masks) {
      summary.add({static_cast<double>(d.mask->height), static_cast<double>(d.mask->width)});
      for (const auto run : d.mask->counts) summary.add({static_cast<double>(run)});
    } else {
      double area = 0;  // runs alternate background, foreground, ...
      for (std::size_t i = 1; i < d.mask->counts.size(); i += 2) area += static_cast<double>(d.mask->counts[i]);
      summary.add({area}, true);
    }
  }
  return summary;
}

constexpr std::int64_t kBatches[] = {1, 2};

const rtseg::testing::RankRoleRegistration kValidate("validate", {[](ProcessGroup& group,
                                                                     const std::filesystem::path& out) {
  torch::set_num_threads(1);  // as the one process below: BLAS's blocking follows the thread count
  auto runtime = rtseg::testing::make_test_runtime();
  ValidationSetup setup = validation_setup(*runtime, out / "runs");
  for (const std::int64_t batch : kBatches) {
    setup.options.batch_size = batch;
    std::optional<eval::GroundTruth> ground_truth;
    const auto result = train::validate(*setup.model, setup.dataset, setup.options, ground_truth, &group);
    const auto file = out / ("rank" + std::to_string(group.rank()) + "_batch" + std::to_string(batch) + ".txt");
    if (group.rank() == 0) rtseg::testing::write_values(file, validation_summary(result, batch == 1).values);
    if (group.rank() == 1) {
      rtseg::testing::write_values(file, {static_cast<double>(result.detections.size()), ground_truth ? 1.0 : 0.0});
    }
  }
}});

// The same detections in the same order, so the same COCO evaluation. With batch 1 every image
// goes through the same arithmetic, bit for bit; with batch 2 the shards batch other neighbours
// than one process does, which moves scores by rounding only (and may flip a mask pixel).
TEST(Distributed, ValidationOnTwoRanksEqualsOneProcess) {
  rtseg::testing::TempDir dir;
  ASSERT_THAT(rtseg::testing::run_two_ranks("validate", dir.path(), std::chrono::seconds(120)),
              ::testing::ElementsAre(0, 0));
  torch::set_num_threads(1);
  auto runtime = rtseg::testing::make_test_runtime();
  ValidationSetup setup = validation_setup(*runtime, dir.path() / "single");
  for (const std::int64_t batch : kBatches) {
    const std::string suffix = "_batch" + std::to_string(batch) + ".txt";
    EXPECT_THAT(rtseg::testing::read_values(dir.path() / ("rank1" + suffix)), ::testing::ElementsAre(0.0, 0.0))
        << "rank 1 holds no detections and reads no ground truth";
    setup.options.batch_size = batch;
    std::optional<eval::GroundTruth> ground_truth;
    const auto alone = train::validate(*setup.model, setup.dataset, setup.options, ground_truth);
    ASSERT_GT(alone.detections.size(), 0u);
    ASSERT_TRUE(alone.mask.has_value());
    const auto together = rtseg::testing::read_values(dir.path() / ("rank0" + suffix));
    const Summary expected = validation_summary(alone, batch == 1);
    ASSERT_EQ(together.size(), expected.values.size()) << "batch " << batch;
    for (std::size_t i = 0; i < together.size(); ++i) {
      const double want = expected.values[i];
      if (batch == 1) {
        ASSERT_EQ(together[i], want) << "value " << i;
      } else if (expected.is_mask_area[i]) {
        ASSERT_NEAR(together[i], want, 2 + 0.01 * want) << "mask area, value " << i;
      } else {
        ASSERT_NEAR(together[i], want, 1e-6 * (1 + std::abs(want))) << "value " << i;
      }
    }
  }
}

}  // namespace
}  // namespace rtseg::framework::distributed
