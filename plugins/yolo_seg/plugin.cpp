#include "rtseg/sdk/plugin.h"

#include "yolo_dataset.h"

namespace rtseg::plugins::yolo_seg {

void register_components(sdk::Registrar& registrar) {
  registrar.add("yolo_seg", sdk::make_factory<sdk::Dataset>(
                                "Ultralytics / Roboflow YOLO segmentation labels with a data.yaml",
                                &yolo_seg_options_from, &make_yolo_seg));
}

}  // namespace rtseg::plugins::yolo_seg

RTSEG_PLUGIN("yolo_seg", "1.0.0", "Datasets in YOLO segmentation format (data.yaml + label files)",
             rtseg::plugins::yolo_seg::register_components)
