#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "rtseg/framework/predict/postprocess.h"

/// Prediction pictures: class-coloured masks blended at alpha 0.5, boxes, and "name 0.87" labels
/// on filled backgrounds (the look Ultralytics, Detectron2 and RF-DETR's docs use).
namespace rtseg::framework {

struct OverlayStyle {
  float mask_alpha = 0.5f;  ///< weight of the class colour inside a mask
  int box_thickness = 0;    ///< pixels; 0 = from the picture's size
  int text_scale = 0;       ///< bitmap-font scale; 0 = from the picture's size
};

/// "name 0.87" (two decimals); an index without a name reads "class 7".
std::string detection_label(std::int64_t label, float score, const std::vector<std::string>& class_names);

/// Draws `detections` (at the picture's size: their masks must be [K, H, W]) on a copy of
/// `image` (uint8 [H, W, 3] RGB) and returns it. Masks go first, lowest score first so that the
/// best one ends on top, blended once (overlaps take the top mask's colour, not a mix); then the
/// boxes; then the labels above each box's top-left corner (inside it when there is no room).
/// Each class has a fixed colour (class_color).
torch::Tensor draw_overlay(const torch::Tensor& image, const SelectedDetections& detections,
                           const std::vector<std::string>& class_names, const OverlayStyle& style = {});

}  // namespace rtseg::framework
