// Reading the [data] section of a coco recipe, and the option errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "options.h"
#include "options_test_support.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::coco {
namespace {

using ::testing::HasSubstr;

CocoOptions read(const std::string& toml) {
  return rtseg::testing::read_section(toml, "data", "dataset 'coco'", &coco_options_from, "data.toml");
}

std::string error_of(const std::string& toml) {
  return rtseg::testing::config_error_of([&] { read(toml); });
}

TEST(CocoOptions, DefaultsAndOverrides) {
  const CocoOptions defaults = read("path = \"dataset\"\n");
  EXPECT_EQ(defaults.path, "dataset");
  EXPECT_TRUE(defaults.drop_root_category);
  EXPECT_EQ(defaults.image_check, "lazy");
  EXPECT_TRUE(defaults.train_json.empty());

  const CocoOptions custom = read(
      "path = \"/data\"\ntrain_json = \"a.json\"\ntrain_images = \"imgs\"\nvalid_json = "
      "\"b.json\"\n"
      "drop_root_category = false\nimage_check = \"header\"\n");
  EXPECT_EQ(custom.train_json, "a.json");
  EXPECT_EQ(custom.train_images, "imgs");
  EXPECT_EQ(custom.valid_json, "b.json");
  EXPECT_FALSE(custom.drop_root_category);
  EXPECT_EQ(custom.image_check, "header");
}

TEST(CocoOptions, ErrorsNameTheKey) {
  EXPECT_THAT(error_of(""), HasSubstr("path"));
  EXPECT_THAT(error_of(""), HasSubstr("required"));
  EXPECT_THAT(error_of("path = \"\"\n"), HasSubstr("must not be empty"));
  EXPECT_THAT(error_of("path = \"d\"\nimage_check = \"eager\"\n"), HasSubstr("image_check"));
  EXPECT_THAT(error_of("path = \"d\"\nimage_check = \"eager\"\n"), HasSubstr("lazy"));
  EXPECT_THAT(error_of("path = \"d\"\ntest_images = \"x\"\n"), HasSubstr("test_images"));
  EXPECT_THAT(error_of("path = \"d\"\ntest_images = \"x\"\n"), HasSubstr("needs test_json"));
  const std::string typo = error_of("path = \"d\"\ntrain_jsn = \"x\"\n");
  EXPECT_THAT(typo, HasSubstr("train_jsn"));
  EXPECT_THAT(typo, HasSubstr("train_json"));
  EXPECT_THAT(typo, HasSubstr("data.toml:3"));
  EXPECT_THAT(error_of("path = 3\n"), HasSubstr("path"));
}

TEST(CocoOptions, DescribingDocumentsEveryKey) {
  sdk::ConfigReader reader = sdk::ConfigReader::describing("data", "dataset 'coco'");
  coco_options_from(reader);
  std::vector<std::string> keys;
  for (const sdk::OptionDoc& doc : reader.docs()) keys.push_back(doc.key);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("path", "train_json", "valid_json", "test_json",
                                                    "train_images", "valid_images", "test_images",
                                                    "drop_root_category", "image_check", "allow_outside_files"));
  EXPECT_TRUE(reader.docs()[0].required);
}

}  // namespace
}  // namespace rtseg::plugins::coco
