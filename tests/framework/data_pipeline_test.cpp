// Transforms and the data loader, on a small in-memory dataset.
#include <atomic>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/sample_transform.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

using ::testing::HasSubstr;

// Images of 40 x 20 pixels; image i has a 10 x 6 box at (4 + i, 2) as a polygon and the same
// rectangle as an RLE mask, plus a crowd region. Image 3 "fails to decode".
class TinyDataset final : public sdk::Dataset {
 public:
  explicit TinyDataset(std::int64_t size) : size_(size) {}
  std::vector<sdk::Category> categories() const override { return {{1, "a"}, {2, "b"}}; }
  std::vector<std::string> splits() const override { return {"train"}; }
  std::int64_t size(std::string_view) const override { return size_; }
  sdk::ImageRecord record(std::string_view, std::int64_t i) const override {
    return sdk::ImageRecord{i + 1, "img" + std::to_string(i) + ".png", 40, 20};
  }
  std::vector<sdk::Annotation> annotations(std::string_view, std::int64_t i) const override {
    const double x = 4.0 + static_cast<double>(i);
    sdk::Annotation polygon;
    polygon.id = 10 * i + 1;
    polygon.label = 0;
    polygon.box_xywh = {x, 2, 10, 6};
    polygon.segmentation.polygons = {{x, 2, x, 8, x + 10, 8, x + 10, 2}};
    sdk::Annotation rle = polygon;
    rle.id = 10 * i + 2;
    rle.label = 1;
    rle.segmentation.polygons.clear();
    rle.segmentation.rle = sdk::masks::from_polygon({x, 2, x, 8, x + 10, 8, x + 10, 2}, 20, 40);
    sdk::Annotation crowd = polygon;
    crowd.id = 10 * i + 3;
    crowd.is_crowd = true;
    return {polygon, rle, crowd};
  }
  sdk::Sample load(std::string_view split, std::int64_t i) const override {
    if (i == 3) throw sdk::DataError("img3.png: truncated PNG");
    loads_++;
    // Pixel value encodes the column, so flips and crops are visible.
    torch::Tensor image = torch::arange(40, torch::kByte).view({1, 40, 1}).expand({20, 40, 3}).contiguous();
    return sdk::Sample{record(split, i), image, annotations(split, i)};
  }
  mutable std::atomic<int> loads_{0};

 private:
  std::int64_t size_;
};

TEST(SampleTransform, MultiScaleSizesAreTheReferenceRanges) {
  // Nano detector (patch 16, 2 windows, 384): 224..544 in steps of 32.
  std::vector<std::int64_t> nano;
  for (std::int64_t s = 224; s <= 544; s += 32) nano.push_back(s);
  EXPECT_EQ(multi_scale_sizes(384, true, 16, 2), nano);
  // Segmentation nano (patch 12, 1 window, 312): 252..372 in steps of 12.
  const auto seg = multi_scale_sizes(312, true, 12, 1);
  EXPECT_EQ(seg.front(), 252);
  EXPECT_EQ(seg.back(), 372);
  EXPECT_EQ(seg.size(), 11u);
  // The narrow range, and sizes under two units are dropped.
  EXPECT_EQ(multi_scale_sizes(384, false, 16, 2), (std::vector<std::int64_t>{288, 320, 352, 384, 416, 448, 480, 512}));
  EXPECT_EQ(multi_scale_sizes(96, true, 16, 2), (std::vector<std::int64_t>{64, 96, 128, 160, 192, 224, 256}));
}

TEST(SampleTransform, SquareResizeScalesBoxesAndRasterisesMasksAtTheOutputSize) {
  const TinyDataset data(8);
  const sdk::Sample sample = data.load("train", 0);
  const TrainingSample out = transform_sample(sample, square_geometry(40, 20, 80), true);
  EXPECT_EQ(out.image.sizes(), (std::vector<std::int64_t>{3, 80, 80}));
  ASSERT_EQ(out.targets.labels.size(0), 2);  // the crowd region is left out
  // (4, 2, 10, 6) in 40 x 20 -> x * 2, y * 4 in 80 x 80 -> (8, 8, 20, 24) -> cxcywh / 80.
  const auto box = out.targets.boxes[0];
  EXPECT_FLOAT_EQ(box[0].item<float>(), 18.0f / 80);
  EXPECT_FLOAT_EQ(box[1].item<float>(), 20.0f / 80);
  EXPECT_FLOAT_EQ(box[2].item<float>(), 20.0f / 80);
  EXPECT_FLOAT_EQ(box[3].item<float>(), 24.0f / 80);
  EXPECT_EQ(out.targets.masks.sizes(), (std::vector<std::int64_t>{2, 80, 80}));
  // The polygon, moved and rasterised at 80 x 80, is the rectangle [8, 28) x [8, 32).
  EXPECT_EQ(out.targets.masks[0].sum().item<std::int64_t>(), 20 * 24);
  EXPECT_TRUE(out.targets.masks[0].slice(0, 8, 32).slice(1, 8, 28).all().item<bool>());
  // The RLE copy of the same rectangle, resized by nearest neighbour, lands on the same pixels.
  EXPECT_TRUE(torch::equal(out.targets.masks[0], out.targets.masks[1]));
  // Normalisation: column 0 has value 0 -> (0 - mean) / std.
  EXPECT_NEAR(out.image[0][0][0].item<float>(), -kImageMean[0] / kImageStd[0], 1e-5);
}

TEST(SampleTransform, FlipMirrorsPixelsBoxesAndMasks) {
  const TinyDataset data(8);
  const sdk::Sample sample = data.load("train", 0);
  Geometry flipped = square_geometry(40, 20, 40);
  flipped.flip = true;
  flipped.out_height = 20;
  const TrainingSample out = transform_sample(sample, flipped, true);
  // Box x in [4, 14) becomes [26, 36).
  EXPECT_FLOAT_EQ(out.targets.boxes[0][0].item<float>(), 31.0f / 40);
  EXPECT_TRUE(out.targets.masks[0].slice(0, 2, 8).slice(1, 26, 36).all().item<bool>());
  EXPECT_EQ(out.targets.masks[0].sum().item<std::int64_t>(), 60);
  EXPECT_TRUE(torch::equal(out.targets.masks[0], out.targets.masks[1]));
  // The leftmost output column shows the source's last column (value 39).
  const float expected = (39.0f / 255 - kImageMean[0]) / kImageStd[0];
  EXPECT_NEAR(out.image[0][0][0].item<float>(), expected, 1e-5);
}

TEST(SampleTransform, CropKeepsBoxesInsideAndDropsTheRest) {
  const TinyDataset data(8);
  const sdk::Sample sample = data.load("train", 0);
  Geometry crop{false, 8, 0, 40, 20, 32, 20};  // columns [8, 40): the box [4, 14) is cut to [8, 14)
  TrainingSample out = transform_sample(sample, crop, true);
  ASSERT_EQ(out.targets.labels.size(0), 2);
  EXPECT_FLOAT_EQ(out.targets.boxes[0][2].item<float>(), 6.0f / 32);
  EXPECT_EQ(out.targets.masks[0].sum().item<std::int64_t>(), 6 * 6);
  Geometry away{false, 20, 0, 40, 20, 20, 20};  // the box is outside the crop
  out = transform_sample(sample, away, true);
  EXPECT_EQ(out.targets.labels.size(0), 0);
  EXPECT_EQ(out.targets.masks.size(0), 0);
}

TEST(SampleTransform, RandomGeometryStaysInsideTheImageAndIsReproducible) {
  std::mt19937_64 a(5), b(5);
  bool cropped = false, flipped = false;
  for (int i = 0; i < 200; ++i) {
    const Geometry g = random_geometry(a, 640, 480, 384);
    const Geometry h = random_geometry(b, 640, 480, 384);
    EXPECT_EQ(g.x0, h.x0);
    EXPECT_EQ(g.flip, h.flip);
    EXPECT_GE(g.x0, 0);
    EXPECT_LE(g.x1, 640);
    EXPECT_GT(g.x1, g.x0);
    EXPECT_GE(g.y0, 0);
    EXPECT_LE(g.y1, 480);
    EXPECT_EQ(g.out_width, 384);
    cropped |= g.x1 - g.x0 < 640;
    flipped |= g.flip;
  }
  EXPECT_TRUE(cropped);
  EXPECT_TRUE(flipped);
}

LoaderOptions options(std::int64_t workers) {
  LoaderOptions o;
  o.batch_size = 3;
  o.workers = workers;
  o.seed = 11;
  o.image_size = [](std::int64_t index) { return index % 2 == 0 ? 32 : 48; };
  return o;
}

std::vector<std::vector<std::int64_t>> image_ids(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> ids;
  while (auto batch = loader.next()) {
    ids.emplace_back();
    for (const auto& targets : batch->targets) ids.back().push_back(targets.record.id);
  }
  return ids;
}

TEST(DataLoader, SameBatchesWhateverTheNumberOfWorkers) {
  auto data = std::make_shared<TinyDataset>(10);
  DataLoader serial(data, options(0)), parallel(data, options(2));
  for (std::int64_t epoch : {0, 1}) {
    serial.start_epoch(epoch);
    parallel.start_epoch(epoch);
    std::vector<torch::Tensor> a, b;
    while (auto batch = serial.next()) a.push_back(batch->images);
    while (auto batch = parallel.next()) b.push_back(batch->images);
    ASSERT_EQ(a.size(), 4u);  // 9 readable images of 10, batches of 3
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      // A batch whose only image is the broken one has no images at all.
      ASSERT_EQ(a[i].defined(), b[i].defined()) << "batch " << i;
      if (a[i].defined()) {
        EXPECT_TRUE(torch::equal(a[i], b[i])) << "batch " << i;
      }
    }
    EXPECT_EQ(a[0].size(2), 32);  // the image size follows the batch index
    EXPECT_EQ(a[1].size(2), 48);
  }
  serial.start_epoch(0);
  const auto first = image_ids(serial);
  serial.start_epoch(1);
  EXPECT_NE(first, image_ids(serial));  // a new order each epoch
}

TEST(DataLoader, AnUnreadableImageIsReportedAndLeftOut) {
  auto data = std::make_shared<TinyDataset>(10);
  LoaderOptions o = options(2);
  o.shuffle = false;
  DataLoader loader(data, o);
  auto batch = loader.next();  // images 0, 1, 2
  EXPECT_TRUE(batch->problems.empty());
  batch = loader.next();  // images 3 (broken), 4, 5
  ASSERT_EQ(batch->problems.size(), 1u);
  EXPECT_EQ(batch->problems[0].file, "img3.png");
  EXPECT_THAT(batch->problems[0].reason, HasSubstr("truncated PNG"));
  EXPECT_EQ(batch->targets.size(), 2u);
  EXPECT_EQ(batch->targets[0].record.id, 5);
}

TEST(DataLoader, ResumingMidEpochGivesTheRemainingBatches) {
  auto data = std::make_shared<TinyDataset>(10);
  DataLoader loader(data, options(1));
  loader.start_epoch(2);
  const auto all = image_ids(loader);
  loader.start_epoch(2, /*first_batch=*/2);
  const auto rest = image_ids(loader);
  EXPECT_EQ(rest, std::vector<std::vector<std::int64_t>>(all.begin() + 2, all.end()));
}

TEST(DataLoader, RanksGetDisjointShardsOfEqualSize) {
  auto data = std::make_shared<TinyDataset>(10);
  LoaderOptions o = options(0);
  o.world_size = 3;
  std::multiset<std::int64_t> seen;
  for (std::int64_t rank = 0; rank < 3; ++rank) {
    o.rank = rank;
    const auto indices = DataLoader(data, o).epoch_indices(4);
    EXPECT_EQ(indices.size(), 4u);  // ceil(10 / 3), the list wrapping around
    seen.insert(indices.begin(), indices.end());
  }
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_GE(seen.count(i), 1u);
  EXPECT_EQ(seen.size(), 12u);
}

TEST(DataLoader, SmallDatasetsAreRepeatedToTheRequestedEpochLength) {
  auto data = std::make_shared<TinyDataset>(4);
  LoaderOptions o = options(0);
  o.samples_per_epoch = 15;
  DataLoader loader(data, o);
  EXPECT_EQ(loader.epoch_indices(0).size(), 15u);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
}

}  // namespace
}  // namespace rtseg::framework
