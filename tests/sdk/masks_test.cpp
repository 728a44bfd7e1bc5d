// Dense <-> run-length conversion and pycocotools' compressed string form.

#include "rtseg/sdk/masks.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "rtseg/sdk/errors.h"

namespace rtseg::sdk {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A row-major [h, w] uint8 tensor from the given bytes.
at::Tensor tensor_of(const std::vector<std::uint8_t>& row_major, std::int64_t h, std::int64_t w) {
  return at::from_blob(const_cast<std::uint8_t*>(row_major.data()), {h, w}, at::kByte).clone();
}

// Slow reference for rleEncode: read the mask column by column, count runs starting with zeros.
std::vector<std::uint32_t> reference_counts(const std::vector<std::uint8_t>& row_major,
                                            std::int64_t h, std::int64_t w) {
  std::vector<std::uint32_t> counts;
  std::uint8_t value = 0;
  std::uint32_t run = 0;
  for (std::int64_t x = 0; x < w; ++x) {
    for (std::int64_t y = 0; y < h; ++y) {
      const std::uint8_t pixel = row_major[y * w + x] != 0;
      if (pixel != value) {
        counts.push_back(run);
        run = 0;
        value = pixel;
      }
      ++run;
    }
  }
  counts.push_back(run);
  return counts;
}

// Random masks of varied shape and density, including blobs (long runs) and noise (short runs).
std::vector<std::uint8_t> random_mask(std::mt19937& random, std::int64_t h, std::int64_t w) {
  std::vector<std::uint8_t> mask(h * w);
  const double density = std::uniform_real_distribution<double>(0, 1)(random);
  std::bernoulli_distribution flip(std::uniform_real_distribution<double>(0.01, 0.5)(random));
  std::bernoulli_distribution on(density);
  const bool blobby = random() % 2 == 0;
  std::uint8_t value = on(random);
  for (auto& pixel : mask) {
    if (blobby) {
      if (flip(random)) value ^= 1;
      pixel = value;
    } else {
      pixel = on(random);
    }
  }
  return mask;
}

void expect_rejected(std::string_view text, std::int64_t h, std::int64_t w,
                     const std::vector<std::string>& parts) {
  try {
    masks::from_string(text, h, w);
    ADD_FAILURE() << "accepted \"" << text << "\"";
  } catch (const DataError& error) {
    for (const auto& part : parts) EXPECT_THAT(error.what(), HasSubstr(part)) << text;
  }
}

TEST(MasksEncode, ReadsColumnByColumnStartingWithZeros) {
  // Rows: [0 1] [1 1] [0 0]. Column 0 top-down: 0 1 0, column 1: 1 1 0 -> 0|1|0|1 1|0.
  const RunLengths rle = masks::encode(tensor_of({0, 1, 1, 1, 0, 0}, 3, 2));
  EXPECT_EQ(rle.height, 3);
  EXPECT_EQ(rle.width, 2);
  EXPECT_THAT(rle.counts, ElementsAre(1, 1, 1, 2, 1));
  // A mask starting with foreground gets an empty leading run of zeros.
  EXPECT_THAT(masks::encode(tensor_of({1, 0}, 1, 2)).counts, ElementsAre(0, 1, 1));
}

TEST(MasksEncode, HandlesUniformAndDegenerateShapes) {
  EXPECT_THAT(masks::encode(at::zeros({4, 5}, at::kByte)).counts, ElementsAre(20));
  EXPECT_THAT(masks::encode(at::ones({4, 5}, at::kByte)).counts, ElementsAre(0, 20));
  EXPECT_THAT(masks::encode(tensor_of({1}, 1, 1)).counts, ElementsAre(0, 1));
  EXPECT_THAT(masks::encode(tensor_of({0}, 1, 1)).counts, ElementsAre(1));
  // pycocotools' rleEncode emits a single empty run for an empty image.
  const RunLengths empty = masks::encode(at::zeros({0, 7}, at::kByte));
  EXPECT_EQ(empty.height, 0);
  EXPECT_EQ(empty.width, 7);
  EXPECT_THAT(empty.counts, ElementsAre(0));
}

TEST(MasksEncode, TreatsAnyNonZeroValueAsForeground) {
  const at::Tensor bytes = tensor_of({0, 255, 7, 0}, 2, 2);
  EXPECT_THAT(masks::encode(bytes).counts, ElementsAre(1, 2, 1));
  EXPECT_EQ(masks::encode(bytes.to(at::kBool)), masks::encode(bytes));
  EXPECT_EQ(masks::encode(bytes.to(at::kFloat).mul(0.5)), masks::encode(bytes));
  // Non-contiguous input (a transposed view) is read by its logical layout.
  EXPECT_THAT(masks::encode(bytes.t()).counts, ElementsAre(1, 2, 1));
  EXPECT_THAT(masks::encode(tensor_of({0, 1, 0, 0}, 2, 2).t()).counts, ElementsAre(1, 1, 2));
}

TEST(MasksEncode, RejectsTensorsThatAreNotTwoDimensional) {
  EXPECT_THROW(masks::encode(at::zeros({2, 2, 1}, at::kByte)), DataError);
  EXPECT_THROW(masks::encode(at::zeros({4}, at::kByte)), DataError);
  EXPECT_THROW(masks::encode(at::Tensor()), DataError);
}

TEST(MasksEncode, MatchesSlowReferenceAndDecodesBack) {
  std::mt19937 random(1234);
  // Sizes below, at and past multiples of 8 (the transpose works on 8 x 8 blocks).
  const std::vector<std::pair<int, int>> shapes = {
      {1, 1}, {1, 9}, {9, 1}, {2, 3}, {7, 5}, {8, 8}, {64, 64}, {65, 130}, {131, 67}, {3, 200}};
  for (const auto& [h, w] : shapes) {
    for (int trial = 0; trial < 20; ++trial) {
      auto mask = random_mask(random, h, w);
      if (trial % 2 == 1) {  // any non-zero byte is foreground (the 8 x 8 block path included)
        for (auto& pixel : mask) pixel *= static_cast<std::uint8_t>(1 + random() % 255);
      }
      const at::Tensor dense = tensor_of(mask, h, w);
      const RunLengths rle = masks::encode(dense);
      ASSERT_EQ(rle.counts, reference_counts(mask, h, w)) << h << "x" << w;
      const at::Tensor decoded = masks::decode(rle);
      ASSERT_EQ(decoded.scalar_type(), at::kByte);
      ASSERT_EQ(decoded.sizes(), dense.sizes());
      ASSERT_TRUE(decoded.equal(dense.ne(0).to(at::kByte))) << h << "x" << w;
    }
  }
}

TEST(MasksDecode, WritesRunsColumnByColumn) {
  // 2 x 3, counts 1 2 3: (0,0)=0, then (1,0)=1 and (0,1)=1, then the rest 0.
  const at::Tensor mask = masks::decode(RunLengths{2, 3, {1, 2, 3}});
  const std::vector<std::uint8_t> expected = {0, 1, 0, 1, 0, 0};
  EXPECT_TRUE(mask.equal(tensor_of(expected, 2, 3)));
  EXPECT_EQ(masks::decode(RunLengths{0, 3, {0}}).sizes(), (std::vector<std::int64_t>{0, 3}));
}

TEST(MasksDecode, RejectsCountsThatDoNotCoverTheMask) {
  try {
    masks::decode(RunLengths{2, 3, {1, 2}});
    ADD_FAILURE() << "decoded runs covering 3 of 6 pixels";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("add up to 3"), HasSubstr("2 x 3"), HasSubstr("6")));
  }
  EXPECT_THROW(masks::decode(RunLengths{2, 3, {4, 4}}), DataError);
  EXPECT_THROW(masks::decode(RunLengths{-1, 3, {}}), DataError);
}

TEST(MasksFromCounts, ChecksTheTotal) {
  EXPECT_EQ(masks::from_counts({1, 2, 3}, 2, 3), (RunLengths{2, 3, {1, 2, 3}}));
  EXPECT_THROW(masks::from_counts({1, 2, 4}, 2, 3), DataError);
  EXPECT_THROW(masks::from_counts({1, 2, 3}, 70000, 70000), DataError);  // over 2^32 pixels
}

TEST(MasksString, EncodesHandComputedValues) {
  // Worked by hand from the rule (5 bits a character, LSB first, '0' + bits, +0x20 if more):
  //   i=0: 100 = 3*32 + 4 -> 'T' (48+4+32), '3'      i=1: 3 -> '3'
  //   i=2: 40 stored as is (deltas start at i=3) = 1*32 + 8 -> 'X' (48+8+32), '1'
  //   i=3: 0-3 = -3 -> low bits 29 (sign bit set, rest -1) -> 'M' (48+29)
  //   i=4: 56-40 = 16 -> 16 has the sign bit but the rest is 0, so one more: '`' (48+16+32), '0'
  //   i=5: 39-0 = 39 = 1*32 + 7 -> 'W', '1'
  const RunLengths rle{14, 17, {100, 3, 40, 0, 56, 39}};
  EXPECT_EQ(masks::to_string(rle), "T33X1M`0W1");
  EXPECT_EQ(masks::from_string("T33X1M`0W1", 14, 17), rle);
  // 20 = 0b10100 has the sign bit 0x10 set, so a second character says "the rest is 0": 'd' '0'.
  EXPECT_EQ(masks::to_string(RunLengths{1, 23, {20, 0, 3}}), "d003");
  // i=3: 30-1 = 29 -> 'm' '0'; i=4: 20-3 = 17 -> 'a' '0'; i=5: 13-30 = -17: low bits 15 with
  // more to come (the rest is -1) -> '_' (48+15+32), then 31 with the sign bit -> 'O'.
  EXPECT_EQ(masks::to_string(RunLengths{1, 87, {20, 1, 3, 30, 20, 13}}), "d013m0a0_O");
  EXPECT_EQ(masks::from_string("d013m0a0_O", 1, 87), (RunLengths{1, 87, {20, 1, 3, 30, 20, 13}}));
  EXPECT_EQ(masks::to_string(RunLengths{}), "");
}

TEST(MasksString, RoundTripsRandomMasks) {
  std::mt19937 random(99);
  for (int trial = 0; trial < 300; ++trial) {
    const std::int64_t h = 1 + random() % 40, w = 1 + random() % 40;
    const RunLengths rle = masks::encode(tensor_of(random_mask(random, h, w), h, w));
    const std::string text = masks::to_string(rle);
    for (char c : text) ASSERT_TRUE(c >= '0' && c <= 'o') << text;
    ASSERT_EQ(masks::from_string(text, h, w), rle) << text;
  }
}

TEST(MasksString, RoundTripsExtremeCounts) {
  // 65535 * 65537 = 2^32 - 1 pixels, the most a COCO RLE can hold. Deltas reach +-(2^32 - 3),
  // which needs 34 bits with the sign: 7 characters, and 64-bit arithmetic on both sides.
  const std::int64_t h = 65535, w = 65537;
  const std::uint32_t all = 0xffffffffu;
  for (const auto& counts : std::vector<std::vector<std::uint32_t>>{
           {all}, {0, all}, {1, all - 3, 1, 0, 1}, {0, 1, 0, all - 2, 1}, {all - 1, 1, 0}}) {
    const RunLengths rle{h, w, counts};
    const std::string text = masks::to_string(rle);
    EXPECT_LE(text.size(), 7 * counts.size());
    EXPECT_EQ(masks::from_string(text, h, w), rle) << text;
  }
}

TEST(MasksString, AcceptsEmptyStringOnlyForEmptyMasks) {
  EXPECT_EQ(masks::from_string("", 0, 5), (RunLengths{0, 5, {}}));
  EXPECT_EQ(masks::from_string("0", 0, 5), (RunLengths{0, 5, {0}}));
  expect_rejected("", 2, 2, {"add up to 0", "2 x 2", "4"});
}

TEST(MasksString, RejectsMalformedStrings) {
  expect_rejected("12p", 3, 1, {"'p' (code 112)", "position 2", "outside '0'..'o'"});
  expect_rejected("1/", 3, 1, {"'/' (code 47)", "position 1"});
  expect_rejected(std::string{'1', '\0', '2'}, 3, 1, {"(code 0)", "position 1"});
  // 'T' = chunk 4 with the "more" bit: the string ends inside a value.
  expect_rejected("2T", 3, 1, {"ends inside the value that starts at position 1"});
  // 'M' decodes to -3: a negative first count.
  expect_rejected("M", 3, 1, {"count 0", "decodes to -3"});
  // i=3 is a delta to count 1: 'N' is 30 with the sign bit = -2, and 1 - 2 = -1.
  expect_rejected("111N", 6, 1, {"count 3", "position 3", "decodes to -1"});
  // 'o' is 31 with "more": six of them give 2^30 - 1, then '7' adds 7 * 2^30: 2^33 - 1.
  expect_rejected("oooooo7", 1, 1, {"count 0", "decodes to 8589934591", "32-bit"});
  EXPECT_THAT(masks::from_string("oooooo3", 65535, 65537).counts, ElementsAre(0xffffffffu));
  expect_rejected("oooooooo0", 1, 1, {"more than 7 characters"});
  expect_rejected("35", 3, 3, {"2 counts add up to 8 pixels", "a 3 x 3 mask has 9"});
  expect_rejected("1", -1, 3, {"-1 x 3"});
}

}  // namespace
}  // namespace rtseg::sdk
