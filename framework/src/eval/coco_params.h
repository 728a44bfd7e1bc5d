#pragma once

// pycocotools' default evaluation parameters (Params.setDetParams), bit for bit.

#include <array>

namespace rtseg::framework::eval::detail {

constexpr int kIouThresholdCount = 10;
constexpr int kRecallThresholdCount = 101;
constexpr int kAreaRangeCount = 4;
constexpr int kMaxDetsCount = 3;

/// np.linspace(.5, .95, 10): numpy's rounding, not 0.5 + 0.05 * i (index 8 is
/// 0.8999999999999999), so IoUs exactly on a threshold compare as in pycocotools.
constexpr std::array<double, kIouThresholdCount> kIouThresholds = {
    0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95};
constexpr int kIou50 = 0;
constexpr int kIou75 = 5;

/// np.linspace(0, 1, 101)[i] == i * 0.01 exactly (checked against numpy).
inline double recall_threshold(int index) { return index * 0.01; }

/// all, small, medium, large: [0, 1e10], [0, 32^2], [32^2, 96^2], [96^2, 1e10], bounds inclusive.
constexpr std::array<std::array<double, 2>, kAreaRangeCount> kAreaRanges = {
    {{0.0, 1e10}, {0.0, 1024.0}, {1024.0, 9216.0}, {9216.0, 1e10}}};
constexpr std::array<const char*, kAreaRangeCount> kAreaLabels = {"all", "small", "medium", "large"};

constexpr std::array<int, kMaxDetsCount> kMaxDets = {1, 10, 100};
constexpr int kMaxDetections = 100;  // the largest: detections beyond it per image are dropped

}  // namespace rtseg::framework::eval::detail
