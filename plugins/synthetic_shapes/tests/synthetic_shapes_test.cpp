#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"
#include "synthetic_dataset.h"

namespace rtseg::plugins::synthetic_shapes {
namespace {

using ::testing::HasSubstr;

SyntheticOptions small(std::int64_t seed) {
  SyntheticOptions o;
  o.train_images = 12;
  o.valid_images = 4;
  o.min_size = 96;
  o.max_size = 128;
  o.seed = seed;
  return o;
}

TEST(SyntheticShapes, SameSeedSameDataOtherSeedOtherData) {
  const SyntheticDataset a(small(7)), b(small(7)), c(small(8));
  for (std::int64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(torch::equal(a.load("train", i).image, b.load("train", i).image));
    const auto left = a.annotations("train", i);
    const auto right = b.annotations("train", i);
    ASSERT_EQ(left.size(), right.size());
    for (std::size_t k = 0; k < left.size(); ++k) EXPECT_EQ(left[k].box_xywh, right[k].box_xywh);
  }
  EXPECT_FALSE(torch::equal(a.load("train", 0).image, c.load("train", 0).image));
  // Splits are independent draws, and image ids do not repeat across splits.
  EXPECT_FALSE(torch::equal(a.load("train", 0).image, a.load("valid", 0).image));
  EXPECT_EQ(a.record("valid", 0).id, 13);
}

TEST(SyntheticShapes, SplitsCategoriesAndImages) {
  const SyntheticDataset data(small(1));
  EXPECT_EQ(data.size("train"), 12);
  EXPECT_EQ(data.size("valid"), 4);
  EXPECT_EQ(data.size("test"), 0);
  ASSERT_EQ(data.categories().size(), 5u);
  EXPECT_EQ(data.categories()[4].name, "ring");
  for (std::int64_t i = 0; i < data.size("train"); ++i) {
    const sdk::Sample sample = data.load("train", i);
    EXPECT_GE(sample.record.width, 96);
    EXPECT_LE(sample.record.width, 128);
    EXPECT_EQ(sample.image.sizes(), (std::vector<std::int64_t>{sample.record.height, sample.record.width, 3}));
    EXPECT_EQ(sample.image.scalar_type(), torch::kByte);
  }
  try {
    data.size("val");
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("Did you mean 'valid'?"));
  }
}

// Annotations describe exactly what is drawn: polygons rasterise (the COCO way) to the object's
// visible mask, RLE masks are that mask; box and area come from it. Both forms occur.
TEST(SyntheticShapes, AnnotationsMatchTheVisibleMasks) {
  SyntheticOptions options = small(3);
  options.train_images = 30;
  options.max_objects = 6;
  const SyntheticDataset data(options);
  int polygons = 0, rles = 0, objects = 0;
  std::set<std::int64_t> labels, ids;
  for (std::int64_t i = 0; i < data.size("train"); ++i) {
    const auto record = data.record("train", i);
    for (const auto& annotation : data.annotations("train", i)) {
      ++objects;
      labels.insert(annotation.label);
      EXPECT_TRUE(ids.insert(annotation.id).second) << "duplicate annotation id";
      const sdk::RunLengths mask =
          annotation.segmentation.polygons.empty()
              ? annotation.segmentation.rle
              : sdk::masks::from_polygons(annotation.segmentation.polygons, record.height, record.width);
      (annotation.segmentation.polygons.empty() ? rles : polygons) += 1;
      EXPECT_EQ(static_cast<double>(sdk::masks::area(mask)), annotation.area);
      EXPECT_EQ(sdk::masks::bbox(mask), annotation.box_xywh);
      EXPECT_GT(annotation.area, 0);
      EXPECT_GE(annotation.box_xywh[0], 0);
      EXPECT_LE(annotation.box_xywh[0] + annotation.box_xywh[2], record.width);
    }
  }
  EXPECT_GT(polygons, 0);
  EXPECT_GT(rles, 0);
  EXPECT_GT(objects, 60);
  EXPECT_EQ(labels.size(), 5u);
}

// Rendered images are kept for the next epoch: the same pixels as drawing them again (cache_mib
// = 0 draws on every load), and what a caller does to a loaded image does not reach the cache.
TEST(SyntheticShapes, CachedImagesEqualFreshlyDrawnOnes) {
  SyntheticOptions uncached_options = small(3);
  uncached_options.cache_mib = 0;
  const SyntheticDataset cached(small(3)), uncached(uncached_options);
  for (std::int64_t i = 0; i < cached.size("train"); ++i) {
    at::Tensor first = cached.load("train", i).image;
    first.zero_();  // the caller owns it
    EXPECT_TRUE(torch::equal(cached.load("train", i).image, uncached.load("train", i).image)) << "image " << i;
    EXPECT_TRUE(torch::equal(cached.load("train", i).image, uncached.load("train", i).image)) << "image " << i;
  }
}

TEST(SyntheticShapes, OptionsAreValidated) {
  const auto doc = framework::RecipeDocument::parse_text("min_size = 64\nmax_size = 32\n", "r.toml");
  sdk::ConfigReader reader(&doc.root(), "data", "", doc.origin_lookup());
  try {
    synthetic_options_from(reader);
    FAIL() << "no error";
  } catch (const sdk::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("data.max_size: must be at least min_size"));
  }
  const auto negative = framework::RecipeDocument::parse_text("cache_mib = -1\n", "r.toml");
  sdk::ConfigReader cache_reader(&negative.root(), "data", "", negative.origin_lookup());
  EXPECT_THAT([&] { synthetic_options_from(cache_reader); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("data.cache_mib: must not be negative")));
}

// Another class set (for fine-tuning on other classes): only those shapes, labelled in the
// given order.
TEST(SyntheticShapes, ShapesChooseTheClassesAndTheirOrder) {
  SyntheticOptions options = small(5);
  options.shapes = {"ring", "triangle"};
  const SyntheticDataset two(options);
  ASSERT_EQ(two.categories().size(), 2u);
  EXPECT_EQ(two.categories()[0].name, "ring");
  EXPECT_EQ(two.categories()[0].id, 1);
  EXPECT_EQ(two.categories()[1].name, "triangle");
  std::set<std::int64_t> labels;
  for (std::int64_t i = 0; i < two.size("train"); ++i) {
    for (const auto& annotation : two.annotations("train", i)) {
      labels.insert(annotation.label);
      // Rings have holes: never a polygon. Triangles in full view are.
      if (annotation.label == 0) {
        EXPECT_TRUE(annotation.segmentation.polygons.empty());
      }
    }
  }
  EXPECT_EQ(labels, (std::set<std::int64_t>{0, 1}));

  const auto doc = framework::RecipeDocument::parse_text("shapes = [\"star\", \"hexagon\"]\n", "r.toml");
  sdk::ConfigReader reader(&doc.root(), "data", "", doc.origin_lookup());
  EXPECT_THAT([&] { synthetic_options_from(reader); },
              ::testing::ThrowsMessage<sdk::ConfigError>(HasSubstr("'hexagon' is not a shape")));
}

}  // namespace
}  // namespace rtseg::plugins::synthetic_shapes
