// Reading the [data] section of a yolo_seg recipe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "options.h"
#include "options_test_support.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::yolo_seg {
namespace {

using ::testing::HasSubstr;

YoloSegOptions read(const std::string& toml) {
  return rtseg::testing::read_section(toml, "data", "dataset 'yolo_seg'", &yolo_seg_options_from, "data.toml");
}

std::string error_of(const std::string& toml) {
  return rtseg::testing::config_error_of([&] { read(toml); });
}

TEST(YoloSegOptions, PathIsRequiredAndKeysAreStrict) {
  EXPECT_EQ(read("path = \"ds/data.yaml\"\n").path, "ds/data.yaml");
  EXPECT_THAT(error_of(""), HasSubstr("path"));
  EXPECT_THAT(error_of(""), HasSubstr("required"));
  EXPECT_THAT(error_of("path = \"\"\n"), HasSubstr("must not be empty"));
  const std::string typo = error_of("path = \"d\"\npaht = \"x\"\n");
  EXPECT_THAT(typo, HasSubstr("paht"));
  EXPECT_THAT(typo, HasSubstr("data.toml:3"));
}

}  // namespace
}  // namespace rtseg::plugins::yolo_seg
