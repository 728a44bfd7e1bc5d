#include "rtseg/sdk/suggest.h"

#include <gtest/gtest.h>

namespace rtseg::sdk {
namespace {

TEST(Suggest, FindsTyposButNotUnrelatedWords) {
  const std::vector<std::string> keys = {"batch", "accum", "resolution", "num_queries"};
  EXPECT_EQ(nearest_match("bacth", keys), "batch");       // transposition
  EXPECT_EQ(nearest_match("Batch", keys), "batch");       // case
  EXPECT_EQ(nearest_match("resolutoin", keys), "resolution");
  EXPECT_EQ(nearest_match("num_querys", keys), "num_queries");
  EXPECT_EQ(nearest_match("optimizer", keys), std::nullopt);
  EXPECT_EQ(nearest_match("x", {}), std::nullopt);
}

TEST(Suggest, Texts) {
  EXPECT_EQ(did_you_mean("acum", {"accum", "batch"}), " Did you mean 'accum'?");
  EXPECT_EQ(did_you_mean("zzzzzz", {"accum"}), "");
  EXPECT_EQ(join_names({}), "(none)");
  EXPECT_EQ(join_names({"a", "b"}), "a, b");
}

}  // namespace
}  // namespace rtseg::sdk
