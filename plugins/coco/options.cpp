#include "options.h"

namespace rtseg::plugins::coco {

CocoOptions coco_options_from(sdk::ConfigReader& reader) {
  CocoOptions options;
  options.path = reader.require<std::string>(
      "path",
      "dataset folder, relative to the recipe: Roboflow's "
      "{train,valid,test}/_annotations.coco.json "
      "with the images beside each file, or COCO's annotations/instances_{train,val}2017.json with "
      "{train,val}2017/ image folders");
  const char* json_doc =
      "annotation file of the split, relative to path (custom layouts; when any "
      "*_json is set, only the splits given are used)";
  const char* images_doc =
      "image folder of the split, relative to path (default: the folder of its "
      "annotation file)";
  options.train_json = reader.get("train_json", options.train_json, json_doc);
  options.valid_json = reader.get("valid_json", options.valid_json, json_doc);
  options.test_json = reader.get("test_json", options.test_json, json_doc);
  options.train_images = reader.get("train_images", options.train_images, images_doc);
  options.valid_images = reader.get("valid_images", options.valid_images, images_doc);
  options.test_images = reader.get("test_images", options.test_images, images_doc);
  options.drop_root_category = reader.get(
      "drop_root_category", options.drop_root_category,
      "leave out a category with supercategory \"none\" that no annotation uses (Roboflow's "
      "synthetic root class)");
  options.image_check = reader.choice(
      "image_check", options.image_check, {"lazy", "header"},
      "\"lazy\": image sizes are checked when an image is loaded; \"header\": every image's header "
      "is read when the dataset is built, and missing or mismatched images are left out");
  options.allow_outside_files = reader.get(
      "allow_outside_files", options.allow_outside_files,
      "let file_name entries name images outside the dataset folder (absolute paths, ../); "
      "false: a downloaded dataset cannot make rtseg open other files on the machine");

  reader.check(!options.path.empty(), "path", "must not be empty.");
  reader.check(options.train_images.empty() || !options.train_json.empty(), "train_images",
               "needs train_json (the images of a split are given with its annotation file).");
  reader.check(options.valid_images.empty() || !options.valid_json.empty(), "valid_images",
               "needs valid_json (the images of a split are given with its annotation file).");
  reader.check(options.test_images.empty() || !options.test_json.empty(), "test_images",
               "needs test_json (the images of a split are given with its annotation file).");
  return options;
}

}  // namespace rtseg::plugins::coco
