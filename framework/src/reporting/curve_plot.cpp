#include "rtseg/framework/reporting/curve_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "raster_canvas.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::framework::reporting {
namespace {

constexpr Color kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{225, 225, 225}, kLabel{60, 60, 60};
// Matplotlib's first colours: familiar to anyone who has read a results.png.
constexpr Color kSeriesColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}};
// Plot area inside a panel: room for y tick labels on the left, the title and one legend line
// per series above (so that the legend never hides a curve), x tick labels below.
constexpr std::int64_t kLeft = 52, kRight = 14, kTitleHeight = 22, kLegendLine = 11, kBottom = 34;
// Above this many epochs the points get no markers: the line alone reads better.
constexpr std::size_t kMaxMarkedPoints = 50;

struct Range {
  double low = 0, high = 1, step = 1;  // ticks at low, low + step, ..., high
};

// Ticks at multiples of 1, 2 or 5 x 10^k, about `count` of them, covering [low, high].
Range nice_range(double low, double high, int count, bool integer_steps) {
  if (high - low < 1e-12) {
    const double pad = std::max(std::abs(low) * 0.1, integer_steps ? 1.0 : 0.05);
    low -= pad, high += pad;
  }
  const double raw = (high - low) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude * 10;
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (magnitude * factor >= raw) {
      step = magnitude * factor;
      break;
    }
  }
  if (integer_steps) step = std::max(1.0, std::round(step));
  return {std::floor(low / step + 1e-9) * step, std::ceil(high / step - 1e-9) * step, step};
}

std::string tick_label(double value, double step) {
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, std::abs(value) < step * 1e-6 ? 0.0 : value);
  return text;
}

// The panel's series that have at least one finite value, as (name, points by epoch).
struct Series {
  std::string name;
  std::vector<std::pair<double, std::optional<double>>> points;  // epoch, value if finite
};

std::vector<Series> series_with_data(const std::vector<MetricsRow>& rows, const CurvePanel& panel) {
  std::vector<Series> found;
  for (const std::string& name : panel.series) {
    Series series{name, {}};
    bool any = false;
    for (const MetricsRow& row : rows) {
      std::optional<double> value = row.value(name);
      if (value && !std::isfinite(*value)) value.reset();
      any = any || value.has_value();
      series.points.emplace_back(static_cast<double>(row.epoch), value);
    }
    if (any) found.push_back(std::move(series));
  }
  return found;
}

void draw_panel(RasterCanvas& canvas, std::int64_t origin_x, const std::string& title,
                const std::vector<Series>& series) {
  const std::int64_t x0 = origin_x + kLeft, x1 = origin_x + kCurvePanelWidth - kRight;
  const std::int64_t y0 = kTitleHeight + kLegendLine * static_cast<std::int64_t>(series.size()) + 4;
  const std::int64_t y1 = kCurvePanelHeight - kBottom;
  const TextSize title_size = text_size(title);
  canvas.text(origin_x + (kCurvePanelWidth - title_size.width) / 2, 8, title, kBlack);
  if (series.empty()) {
    canvas.text(x0 + 8, y0 + 8, "no data", kLabel);
    return;
  }
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
  for (const Series& one : series) {
    for (const auto& [epoch, value] : one.points) {
      x_low = std::min(x_low, epoch), x_high = std::max(x_high, epoch);
      if (value) y_low = std::min(y_low, *value), y_high = std::max(y_high, *value);
    }
  }
  const Range xs = nice_range(x_low, x_high, 6, /*integer_steps=*/true);
  const Range ys = nice_range(y_low, y_high, 4, /*integer_steps=*/false);
  auto to_x = [&](double v) { return x0 + std::llround((v - xs.low) / (xs.high - xs.low) * double(x1 - x0)); };
  auto to_y = [&](double v) { return y1 - std::llround((v - ys.low) / (ys.high - ys.low) * double(y1 - y0)); };

  for (double tick = ys.low; tick <= ys.high + ys.step * 1e-6; tick += ys.step) {
    const std::int64_t y = to_y(tick);
    canvas.line(x0, y, x1, y, kGrid);
    canvas.line(x0 - 4, y, x0, y, kBlack);
    const std::string label = tick_label(tick, ys.step);
    canvas.text(x0 - 6 - text_size(label).width, y - 3, label, kLabel);
  }
  for (double tick = xs.low; tick <= xs.high + 1e-6; tick += xs.step) {
    const std::int64_t x = to_x(tick);
    canvas.line(x, y1, x, y1 + 4, kBlack);
    const std::string label = tick_label(tick, 1.0);
    canvas.text(x - text_size(label).width / 2, y1 + 7, label, kLabel);
  }
  canvas.text((x0 + x1 - text_size("epoch").width) / 2, y1 + 19, "epoch", kBlack);
  canvas.line(x0, y0, x0, y1, kBlack);
  canvas.line(x0, y1, x1, y1, kBlack);

  for (std::size_t i = 0; i < series.size(); ++i) {
    const Color color = kSeriesColors[i % std::size(kSeriesColors)];
    std::optional<std::pair<std::int64_t, std::int64_t>> previous;
    for (const auto& [epoch, value] : series[i].points) {
      if (!value) {
        previous.reset();  // a gap, not a line across the missing epoch
        continue;
      }
      const std::int64_t x = to_x(epoch), y = to_y(*value);
      if (previous) canvas.line(previous->first, previous->second, x, y, color, 2);
      if (series[i].points.size() <= kMaxMarkedPoints) canvas.fill_rect(x - 2, y - 2, x + 3, y + 3, color);
      previous = std::make_pair(x, y);
    }
    const std::int64_t legend_y = kTitleHeight + static_cast<std::int64_t>(i) * kLegendLine;
    canvas.line(x0 + 5, legend_y + 4, x0 + 15, legend_y + 4, color, 2);
    canvas.text(x0 + 19, legend_y + 1, series[i].name, kBlack);
  }
}

}  // namespace

std::vector<CurvePanel> default_curve_panels() {
  return {{"loss", {"train/loss", "val/loss"}},
          {"box mAP", {"metrics/mAP50-95(B)", "metrics/mAP50(B)"}},
          {"mask mAP", {"metrics/mAP50-95(M)", "metrics/mAP50(M)"}}};
}

at::Tensor render_curves(const std::vector<MetricsRow>& rows, const std::vector<CurvePanel>& panels) {
  std::vector<std::pair<std::string, std::vector<Series>>> drawn;
  for (const CurvePanel& panel : panels) {
    std::vector<Series> series = series_with_data(rows, panel);
    if (!series.empty()) drawn.emplace_back(panel.title, std::move(series));
  }
  if (drawn.empty()) drawn.emplace_back("training curves", std::vector<Series>{});
  RasterCanvas canvas(kCurvePanelWidth * static_cast<std::int64_t>(drawn.size()), kCurvePanelHeight, kWhite);
  for (std::size_t i = 0; i < drawn.size(); ++i) {
    draw_panel(canvas, static_cast<std::int64_t>(i) * kCurvePanelWidth, drawn[i].first, drawn[i].second);
  }
  return canvas.tensor().clone();  // own the pixels: the canvas goes away
}

void plot_curves(const std::vector<MetricsRow>& rows, const std::filesystem::path& png,
                 const std::vector<CurvePanel>& panels) {
  sdk::write_image(png, render_curves(rows, panels));
}

}  // namespace rtseg::framework::reporting
