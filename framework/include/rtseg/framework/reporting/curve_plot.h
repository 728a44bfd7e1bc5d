#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/framework/reporting/metrics_log.h"

namespace rtseg::framework::reporting {

/// One panel of the curves picture: a title and the values (by name) drawn against the epoch.
struct CurvePanel {
  std::string title;
  std::vector<std::string> series;
};

/// The usual panels: "loss" (train/loss, val/loss), "box mAP" (metrics/mAP50-95(B),
/// metrics/mAP50(B)) and "mask mAP" (metrics/mAP50-95(M), metrics/mAP50(M)).
std::vector<CurvePanel> default_curve_panels();

inline constexpr std::int64_t kCurvePanelWidth = 360;
inline constexpr std::int64_t kCurvePanelHeight = 260;

/// Draws the panels that have at least one finite value in `rows` side by side, each with axes,
/// ticks, tick labels, a title and a legend; one line per series (a gap where a value is missing
/// or not finite). With no such panel, one panel saying "no data". Returns uint8 [H, W, 3] RGB.
at::Tensor render_curves(const std::vector<MetricsRow>& rows,
                         const std::vector<CurvePanel>& panels = default_curve_panels());

/// render_curves written atomically as a PNG to `png` (e.g. <run>/results.png). Throws
/// sdk::Error when the file cannot be written.
void plot_curves(const std::vector<MetricsRow>& rows, const std::filesystem::path& png,
                 const std::vector<CurvePanel>& panels = default_curve_panels());

}  // namespace rtseg::framework::reporting
