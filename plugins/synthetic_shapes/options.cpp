#include "options.h"

#include <algorithm>

namespace rtseg::plugins::synthetic_shapes {

SyntheticOptions synthetic_options_from(sdk::ConfigReader& reader) {
  SyntheticOptions o;
  o.train_images = reader.get("train_images", o.train_images, "images in the train split");
  o.valid_images = reader.get("valid_images", o.valid_images, "images in the valid split");
  o.test_images = reader.get("test_images", o.test_images, "images in the test split");
  o.min_size = reader.get("min_size", o.min_size, "smallest image side in pixels");
  o.max_size = reader.get("max_size", o.max_size, "largest image side in pixels");
  o.min_objects = reader.get("min_objects", o.min_objects, "fewest objects per image");
  o.max_objects = reader.get("max_objects", o.max_objects, "most objects per image");
  o.min_object_fraction = reader.get("min_object_fraction", o.min_object_fraction,
                                     "smallest object, as a fraction of the shorter image side");
  o.max_object_fraction = reader.get("max_object_fraction", o.max_object_fraction,
                                     "largest object, as a fraction of the shorter image side");
  o.shapes = reader.get("shapes", o.shapes,
                        "the shapes drawn, which are the classes in this order: a subset of ellipse, rectangle, "
                        "triangle, star, ring");
  o.seed = reader.get("seed", o.seed, "random seed: the same seed draws the same images");
  o.cache_mib = reader.get("cache_mib", o.cache_mib,
                           "keep rendered images in memory up to this many MiB, so that later epochs do not "
                           "draw them again (0: draw on every load)");
  reader.check(o.train_images >= 0 && o.valid_images >= 0 && o.test_images >= 0, "train_images",
               "image counts must not be negative.");
  reader.check(!o.shapes.empty(), "shapes", "must name at least one shape.");
  for (std::size_t i = 0; i < o.shapes.size(); ++i) {
    reader.check(std::find(kShapeNames.begin(), kShapeNames.end(), o.shapes[i]) != kShapeNames.end(), "shapes",
                 "'" + o.shapes[i] + "' is not a shape; shapes: ellipse, rectangle, triangle, star, ring.");
    reader.check(std::find(o.shapes.begin(), o.shapes.begin() + i, o.shapes[i]) == o.shapes.begin() + i, "shapes",
                 "'" + o.shapes[i] + "' is named twice.");
  }
  reader.check(o.cache_mib >= 0, "cache_mib", "must not be negative.");
  reader.check(o.min_size >= 32, "min_size", "must be at least 32 pixels.");
  reader.check(o.max_size >= o.min_size, "max_size", "must be at least min_size.");
  reader.check(o.min_objects >= 0, "min_objects", "must not be negative.");
  reader.check(o.max_objects >= o.min_objects, "max_objects", "must be at least min_objects.");
  reader.check(o.min_object_fraction > 0 && o.min_object_fraction <= o.max_object_fraction &&
                   o.max_object_fraction <= 1,
               "min_object_fraction", "need 0 < min_object_fraction <= max_object_fraction <= 1.");
  return o;
}

}  // namespace rtseg::plugins::synthetic_shapes
