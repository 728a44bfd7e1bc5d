#include "rtseg/framework/reporting/curve_plot.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "rtseg/sdk/image_io.h"
#include "test_support.h"

namespace rtseg::framework::reporting {
namespace {

const std::vector<std::int64_t> kBlue{31, 119, 180};  // the first series' colour

std::vector<MetricsRow> rising_map_falling_loss(int epochs) {
  std::vector<MetricsRow> rows;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    MetricsRow row;
    row.epoch = epoch;
    row.values = {{"train/loss", 5.0 / epoch}, {"metrics/mAP50-95(B)", 0.05 * epoch}, {"metrics/mAP50(B)", 0.08 * epoch}};
    rows.push_back(row);
  }
  return rows;
}

// Mask of the pixels of one colour, [H, W] bool.
torch::Tensor pixels_of(const torch::Tensor& image, const std::vector<std::int64_t>& color) {
  return image.eq(torch::tensor(color, torch::kLong).to(torch::kByte).view({1, 1, 3})).all(2);
}

// Mean row of the coloured pixels in columns [x0, x1): where a curve is in that stretch.
double mean_row(const torch::Tensor& mask, std::int64_t x0, std::int64_t x1) {
  const torch::Tensor part = mask.slice(1, x0, x1);
  const auto rows = torch::arange(part.size(0), torch::kDouble).view({-1, 1}).expand_as(part);
  return (rows * part).sum().item<double>() / part.sum().item<double>();
}

TEST(CurvePlot, DrawsOnePanelPerKindOfCurveWithData) {
  const torch::Tensor image = render_curves(rising_map_falling_loss(10));
  EXPECT_EQ(image.scalar_type(), torch::kByte);
  // loss and box mAP; no mask values, so no mask panel.
  EXPECT_EQ(image.sizes(), (std::vector<std::int64_t>{kCurvePanelHeight, 2 * kCurvePanelWidth, 3}));
  const torch::Tensor blue = pixels_of(image, kBlue);
  EXPECT_GT(blue.slice(1, 0, kCurvePanelWidth).sum().item<int>(), 200);
  EXPECT_GT(blue.slice(1, kCurvePanelWidth).sum().item<int>(), 200);
  // The title and axis labels put dark text in the title strip of each panel.
  const torch::Tensor dark = image.lt(100).all(2);
  EXPECT_GT(dark.slice(0, 0, 20).slice(1, 0, kCurvePanelWidth).sum().item<int>(), 20);
  EXPECT_GT(dark.slice(0, 0, 20).slice(1, kCurvePanelWidth).sum().item<int>(), 20);
}

TEST(CurvePlot, HigherValuesAreDrawnHigher) {
  const torch::Tensor blue = pixels_of(render_curves(rising_map_falling_loss(10)), kBlue);
  const std::int64_t w = kCurvePanelWidth;
  // Columns right of the legend's colour sample (x 57..67 in each panel), so only curves count.
  // Rows grow downwards: the falling loss sits higher (smaller rows) on the left ...
  EXPECT_LT(mean_row(blue, 80, 140) + 30, mean_row(blue, w - 120, w - 20));
  // ... and the rising mAP higher on the right.
  EXPECT_GT(mean_row(blue, w + 80, w + 140), mean_row(blue, 2 * w - 120, 2 * w - 20) + 30);
}

TEST(CurvePlot, ShowsMaskPanelsAndCustomPanelsAndSurvivesOddData) {
  std::vector<MetricsRow> rows = rising_map_falling_loss(1);  // a single epoch
  rows[0].values.emplace_back("metrics/mAP50(M)", std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(render_curves(rows).size(1), 2 * kCurvePanelWidth);  // NaN only: still no mask panel
  rows[0].values.emplace_back("metrics/mAP50-95(M)", 0.3);
  EXPECT_EQ(render_curves(rows).size(1), 3 * kCurvePanelWidth);
  const torch::Tensor custom = render_curves(rows, {{"lr", {"lr/pg0", "lr/pg1"}}});
  EXPECT_EQ(custom.size(1), kCurvePanelWidth);  // nothing to draw: one "no data" panel
  EXPECT_EQ(pixels_of(custom, kBlue).sum().item<int>(), 0);
  EXPECT_EQ(render_curves({}).size(1), kCurvePanelWidth);
}

TEST(CurvePlot, WritesAPngThatDecodesToTheRenderedPicture) {
  testing::TempDir dir;
  const auto rows = rising_map_falling_loss(4);
  plot_curves(rows, dir / "results.png");
  const sdk::DecodedImage decoded = sdk::decode_image(dir / "results.png");
  EXPECT_TRUE(decoded.pixels.equal(render_curves(rows)));
  EXPECT_EQ(decoded.info.format, "png");
}

}  // namespace
}  // namespace rtseg::framework::reporting
