#include "options.h"

namespace rtseg::plugins::convnet {

ConvNetOptions convnet_options_from(sdk::ConfigReader& reader) {
  ConvNetOptions o;
  o.width = reader.get("width", o.width, "channels after the stride-2 stem, doubled at each later stage");
  o.blocks = reader.get("blocks", o.blocks, "residual blocks per stage");
  o.output_stride = reader.get("output_stride", o.output_stride, "stride of the output map: 8 or 16");
  reader.check(o.width >= 8 && o.width % 8 == 0, "width", "must be a positive multiple of 8 (GroupNorm groups).");
  reader.check(o.blocks >= 1, "blocks", "must be at least 1.");
  reader.check(o.output_stride == 8 || o.output_stride == 16, "output_stride", "must be 8 or 16.");
  return o;
}

}  // namespace rtseg::plugins::convnet
