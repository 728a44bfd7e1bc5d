// Reading the [data] section of a yolo_seg recipe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "options.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::yolo_seg {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& toml) {
  const auto document = framework::RecipeDocument::parse_text("[data]\n" + toml, "data.toml");
  sdk::ConfigReader reader(document.root()["data"].as_table(), "data", "dataset 'yolo_seg'",
                           document.origin_lookup());
  try {
    yolo_seg_options_from(reader);
    reader.finish();
  } catch (const sdk::ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(YoloSegOptions, PathIsRequiredAndKeysAreStrict) {
  const auto document =
      framework::RecipeDocument::parse_text("path = \"ds/data.yaml\"\n", "data.toml");
  sdk::ConfigReader reader(&document.root(), "", "dataset 'yolo_seg'",
                           document.origin_lookup());
  EXPECT_EQ(yolo_seg_options_from(reader).path, "ds/data.yaml");
  EXPECT_THAT(error_of(""), HasSubstr("path"));
  EXPECT_THAT(error_of(""), HasSubstr("required"));
  EXPECT_THAT(error_of("path = \"\"\n"), HasSubstr("must not be empty"));
  const std::string typo = error_of("path = \"d\"\npaht = \"x\"\n");
  EXPECT_THAT(typo, HasSubstr("paht"));
  EXPECT_THAT(typo, HasSubstr("data.toml:3"));
}

}  // namespace
}  // namespace rtseg::plugins::yolo_seg
