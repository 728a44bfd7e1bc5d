#include "rtseg/framework/bitmap_font.h"

#include <set>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace rtseg::framework {
namespace {

torch::Tensor blank(std::int64_t h, std::int64_t w) { return torch::zeros({h, w, 3}, torch::kByte); }

// The ink of one channel as rows of '#' / '.', for readable expectations.
std::string art(const torch::Tensor& image, int channel = 0) {
  std::string out;
  const auto pixels = image.select(2, channel).contiguous();
  const auto* data = pixels.data_ptr<std::uint8_t>();
  for (std::int64_t y = 0; y < pixels.size(0); ++y) {
    for (std::int64_t x = 0; x < pixels.size(1); ++x) out += data[y * pixels.size(1) + x] ? '#' : '.';
    out += '\n';
  }
  return out;
}

TEST(BitmapFont, EveryPrintableCharacterHasADistinctNonBlankGlyphExceptSpace) {
  std::set<std::string> seen;
  for (int c = 32; c <= 126; ++c) {
    const std::uint8_t* rows = glyph_rows(static_cast<char>(c));
    std::string key(reinterpret_cast<const char*>(rows), kGlyphHeight);
    int ink = 0;
    for (int r = 0; r < kGlyphHeight; ++r) {
      EXPECT_EQ(rows[r] >> kGlyphWidth, 0) << "glyph " << c << " is wider than 5 columns";
      ink += rows[r] != 0;
    }
    EXPECT_EQ(ink == 0, c == ' ') << "glyph '" << static_cast<char>(c) << "'";
    EXPECT_TRUE(seen.insert(key).second) << "glyph '" << static_cast<char>(c) << "' duplicates another";
  }
}

TEST(BitmapFont, UnprintableBytesDrawAsQuestionMark) {
  EXPECT_EQ(glyph_rows('\t'), glyph_rows('?'));
  EXPECT_EQ(glyph_rows(static_cast<char>(0xC3)), glyph_rows('?'));
  EXPECT_NE(glyph_rows('A'), glyph_rows('?'));
}

TEST(BitmapFont, TextSizeCountsCellsWithoutTrailingSpacing) {
  EXPECT_EQ(text_size("").width, 0);
  EXPECT_EQ(text_size("").height, 0);
  EXPECT_EQ(text_size("A").width, 5);
  EXPECT_EQ(text_size("A").height, 8);
  EXPECT_EQ(text_size("cat 0.87").width, 8 * 6 - 1);
  EXPECT_EQ(text_size("cat 0.87", 3).width, (8 * 6 - 1) * 3);
  EXPECT_EQ(text_size("cat 0.87", 3).height, 24);
  const TextSize two_lines = text_size("ab\nlonger", 2);
  EXPECT_EQ(two_lines.width, (6 * 6 - 1) * 2);
  EXPECT_EQ(two_lines.height, (9 + 8) * 2);
  EXPECT_EQ(text_size("x", 0).width, 5);  // scale below 1 counts as 1
}

TEST(BitmapFont, DrawsTheGlyphPixelsInTheColourAndNothingElse) {
  torch::Tensor image = blank(10, 8);
  draw_text(image, 1, 1, "A", {200, 100, 50});
  EXPECT_EQ(art(image),
            "........\n"
            "..###...\n"
            ".#...#..\n"
            ".#...#..\n"
            ".#####..\n"
            ".#...#..\n"
            ".#...#..\n"
            ".#...#..\n"
            "........\n"
            "........\n");
  EXPECT_EQ(image[1][2][0].item<int>(), 200);
  EXPECT_EQ(image[1][2][1].item<int>(), 100);
  EXPECT_EQ(image[1][2][2].item<int>(), 50);
  EXPECT_EQ(art(image, 1), art(image, 0));
}

TEST(BitmapFont, ScaleRepeatsEachPixelAndKeepsTheBackground) {
  torch::Tensor image = torch::full({16, 10, 3}, 7, torch::kByte);
  draw_text(image, 0, 0, "-", {255, 255, 255}, 2);
  // '-' is row 3 of the glyph, all five columns: rows 6-7, columns 0-9 at scale 2.
  EXPECT_EQ(image.select(2, 0).eq(255).sum().item<int>(), 2 * 10);
  EXPECT_TRUE(image.slice(0, 6, 8).eq(255).all().item<bool>());
  EXPECT_TRUE(image.slice(0, 0, 6).eq(7).all().item<bool>());
  EXPECT_TRUE(image.slice(0, 8, 16).eq(7).all().item<bool>());
}

TEST(BitmapFont, ClipsAtEveryEdgeWithoutThrowing) {
  torch::Tensor reference = blank(30, 30);
  draw_text(reference, 10, 10, "Hg", {255, 0, 0});
  for (const auto& [x, y] : std::vector<std::pair<int, int>>{{-4, -3}, {25, 26}, {-100, 5}, {5, 100}}) {
    torch::Tensor image = blank(30, 30);
    draw_text(image, x, y, "Hg", {255, 0, 0});
    // Same pixels as the unclipped drawing, shifted, restricted to what is visible.
    const torch::Tensor shifted = blank(30 + 200, 30 + 200);
    torch::Tensor big = shifted.clone();
    draw_text(big, x + 100, y + 100, "Hg", {255, 0, 0});
    EXPECT_TRUE(image.equal(big.slice(0, 100, 130).slice(1, 100, 130))) << x << "," << y;
  }
  EXPECT_EQ(reference.select(2, 0).gt(0).sum().item<int>() > 20, true);
}

TEST(BitmapFont, SecondLineStartsNineRowsLower) {
  torch::Tensor image = blank(20, 6);
  draw_text(image, 0, 0, "|\n|", {9, 9, 9});
  // '|' fills all 8 rows of column 2; row 8 is the gap between the lines.
  const torch::Tensor column = image.select(1, 2).select(1, 0);
  EXPECT_TRUE(column.slice(0, 0, 8).eq(9).all().item<bool>());
  EXPECT_EQ(column[8].item<int>(), 0);
  EXPECT_TRUE(column.slice(0, 9, 17).eq(9).all().item<bool>());
  EXPECT_EQ(column[17].item<int>(), 0);
}

}  // namespace
}  // namespace rtseg::framework
