#include "rtseg/framework/bitmap_font.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

constexpr int kFirstChar = 32;
constexpr int kLastChar = 126;
constexpr int kGlyphCount = kLastChar - kFirstChar + 1;

// The glyphs, drawn for this project: up to 8 rows of 5 columns, '#' = ink, '.' = blank, rows
// separated by spaces; rows left out at the bottom are blank. Capitals and digits use rows 0-6,
// lowercase letters have their x-height at rows 2-6 and descenders down to row 7.
struct GlyphArt {
  char character;
  const char* rows;
};

constexpr GlyphArt kGlyphArt[kGlyphCount] = {
    {' ', ""},
    {'!', "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."},
    {'"', ".#.#. .#.#."},
    {'#', ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."},
    {'$', "..#.. .#### #.#.. .###. ..#.# ####. ..#.."},
    {'%', "##... ##..# ...#. ..#.. .#... #..## ...##"},
    {'&', ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"},
    {'\'', "..#.. ..#.."},
    {'(', "...#. ..#.. .#... .#... .#... ..#.. ...#."},
    {')', ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."},
    {'*', "..... ..#.. #.#.# .###. #.#.# ..#.."},
    {'+', "..... ..#.. ..#.. ##### ..#.. ..#.."},
    {',', "..... ..... ..... ..... ..... ..#.. ..#.. .#..."},
    {'-', "..... ..... ..... #####"},
    {'.', "..... ..... ..... ..... ..... .##.. .##.."},
    {'/', "....# ....# ...#. ..#.. .#... #.... #...."},
    {'0', ".###. #...# #..## #.#.# ##..# #...# .###."},
    {'1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'2', ".###. #...# ....# ...#. ..#.. .#... #####"},
    {'3', ".###. #...# ....# ..##. ....# #...# .###."},
    {'4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."},
    {'5', "##### #.... ####. ....# ....# #...# .###."},
    {'6', "..##. .#... #.... ####. #...# #...# .###."},
    {'7', "##### ....# ...#. ..#.. .#... .#... .#..."},
    {'8', ".###. #...# #...# .###. #...# #...# .###."},
    {'9', ".###. #...# #...# .#### ....# ...#. .##.."},
    {':', "..... .##.. .##.. ..... .##.. .##.."},
    {';', "..... .##.. .##.. ..... .##.. ..#.. .#..."},
    {'<', "...#. ..#.. .#... #.... .#... ..#.. ...#."},
    {'=', "..... ..... ##### ..... #####"},
    {'>', ".#... ..#.. ...#. ....# ...#. ..#.. .#..."},
    {'?', ".###. #...# ....# ...#. ..#.. ..... ..#.."},
    {'@', ".###. #...# #.### #.#.# #.##. #.... .####"},
    {'A', ".###. #...# #...# ##### #...# #...# #...#"},
    {'B', "####. #...# #...# ####. #...# #...# ####."},
    {'C', ".###. #...# #.... #.... #.... #...# .###."},
    {'D', "####. #...# #...# #...# #...# #...# ####."},
    {'E', "##### #.... #.... ####. #.... #.... #####"},
    {'F', "##### #.... #.... ####. #.... #.... #...."},
    {'G', ".###. #...# #.... #.### #...# #...# .####"},
    {'H', "#...# #...# #...# ##### #...# #...# #...#"},
    {'I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'J', "..### ...#. ...#. ...#. ...#. #..#. .##.."},
    {'K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"},
    {'L', "#.... #.... #.... #.... #.... #.... #####"},
    {'M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"},
    {'N', "#...# #...# ##..# #.#.# #..## #...# #...#"},
    {'O', ".###. #...# #...# #...# #...# #...# .###."},
    {'P', "####. #...# #...# ####. #.... #.... #...."},
    {'Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"},
    {'R', "####. #...# #...# ####. #.#.. #..#. #...#"},
    {'S', ".#### #.... #.... .###. ....# ....# ####."},
    {'T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'U', "#...# #...# #...# #...# #...# #...# .###."},
    {'V', "#...# #...# #...# #...# #...# .#.#. ..#.."},
    {'W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."},
    {'X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"},
    {'Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."},
    {'Z', "##### ....# ...#. ..#.. .#... #.... #####"},
    {'[', ".###. .#... .#... .#... .#... .#... .###."},
    {'\\', "#.... #.... .#... ..#.. ...#. ....# ....#"},
    {']', ".###. ...#. ...#. ...#. ...#. ...#. .###."},
    {'^', "..#.. .#.#. #...#"},
    {'_', "..... ..... ..... ..... ..... ..... ..... #####"},
    {'`', ".#... ..#.."},
    {'a', "..... ..... .###. ....# .#### #...# .####"},
    {'b', "#.... #.... ####. #...# #...# #...# ####."},
    {'c', "..... ..... .###. #.... #.... #.... .###."},
    {'d', "....# ....# .#### #...# #...# #...# .####"},
    {'e', "..... ..... .###. #...# ##### #.... .###."},
    {'f', "..##. .#... .#... ###.. .#... .#... .#..."},
    {'g', "..... ..... .#### #...# #...# .#### ....# .###."},
    {'h', "#.... #.... ####. #...# #...# #...# #...#"},
    {'i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."},
    {'j', "...#. ..... ..##. ...#. ...#. ...#. #..#. .##.."},
    {'k', "#.... #.... #..#. #.#.. ##... #.#.. #..#."},
    {'l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'m', "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#"},
    {'n', "..... ..... ####. #...# #...# #...# #...#"},
    {'o', "..... ..... .###. #...# #...# #...# .###."},
    {'p', "..... ..... ####. #...# #...# ####. #.... #...."},
    {'q', "..... ..... .#### #...# #...# .#### ....# ....#"},
    {'r', "..... ..... #.##. ##..# #.... #.... #...."},
    {'s', "..... ..... .#### #.... .###. ....# ####."},
    {'t', ".#... .#... ###.. .#... .#... .#..# ..##."},
    {'u', "..... ..... #...# #...# #...# #..## .##.#"},
    {'v', "..... ..... #...# #...# #...# .#.#. ..#.."},
    {'w', "..... ..... #...# #...# #.#.# #.#.# .#.#."},
    {'x', "..... ..... #...# .#.#. ..#.. .#.#. #...#"},
    {'y', "..... ..... #...# #...# #...# .#### ....# .###."},
    {'z', "..... ..... ##### ...#. ..#.. .#... #####"},
    {'{', "...## ..#.. ..#.. .#... ..#.. ..#.. ...##"},
    {'|', "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'}', "##... ..#.. ..#.. ...#. ..#.. ..#.. ##..."},
    {'~', "..... ..... .#... #.#.# ...#."},
};

using GlyphRows = std::array<std::uint8_t, kGlyphHeight>;

// Turns the art into bit rows once. A malformed entry is a programming error caught by the tests.
std::array<GlyphRows, kGlyphCount> parse_glyphs() {
  std::array<GlyphRows, kGlyphCount> parsed{};
  for (int i = 0; i < kGlyphCount; ++i) {
    const GlyphArt& art = kGlyphArt[i];
    if (art.character != static_cast<char>(kFirstChar + i)) {
      throw sdk::Error("bitmap font: glyph " + std::to_string(i) + " is out of order");
    }
    int row = 0, column = 0;
    for (const char* p = art.rows; *p != '\0'; ++p) {
      if (*p == ' ') {
        ++row, column = 0;
        continue;
      }
      if (row >= kGlyphHeight || column >= kGlyphWidth || (*p != '#' && *p != '.')) {
        throw sdk::Error(std::string("bitmap font: malformed glyph '") + art.character + "'");
      }
      if (*p == '#') parsed[i][row] |= static_cast<std::uint8_t>(1u << (kGlyphWidth - 1 - column));
      ++column;
    }
  }
  return parsed;
}

const std::array<GlyphRows, kGlyphCount>& glyphs() {
  static const std::array<GlyphRows, kGlyphCount> parsed = parse_glyphs();
  return parsed;
}

// Splits on '\n' (a trailing '\n' adds no line).
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

const std::uint8_t* glyph_rows(char c) {
  const int code = static_cast<unsigned char>(c);
  const int index = code >= kFirstChar && code <= kLastChar ? code - kFirstChar : '?' - kFirstChar;
  return glyphs()[index].data();
}

TextSize text_size(std::string_view text, int scale) {
  scale = std::max(scale, 1);
  const std::vector<std::string_view> lines = lines_of(text);
  std::size_t longest = 0;
  for (std::string_view line : lines) longest = std::max(longest, line.size());
  if (lines.empty()) return {};
  const auto columns = static_cast<std::int64_t>(longest);
  const auto rows = static_cast<std::int64_t>(lines.size());
  return {columns == 0 ? 0 : (columns * kGlyphAdvance - (kGlyphAdvance - kGlyphWidth)) * scale,
          (rows * kLineAdvance - (kLineAdvance - kGlyphHeight)) * scale};
}

void draw_text(torch::Tensor& image, std::int64_t x, std::int64_t y, std::string_view text,
               Color color, int scale) {
  scale = std::max(scale, 1);
  const TextSize size = text_size(text, scale);
  const std::int64_t image_h = image.size(0), image_w = image.size(1);
  // The visible part of the text block, in image and in block coordinates.
  const std::int64_t left = std::max<std::int64_t>(x, 0), top = std::max<std::int64_t>(y, 0);
  const std::int64_t right = std::min(x + size.width, image_w);
  const std::int64_t bottom = std::min(y + size.height, image_h);
  if (right <= left || bottom <= top) return;

  // Rasterise the whole block on the host (a few hundred bytes), then write it in one operation.
  std::vector<std::uint8_t> ink(static_cast<std::size_t>(size.width * size.height), 0);
  const std::vector<std::string_view> lines = lines_of(text);
  for (std::size_t line = 0; line < lines.size(); ++line) {
    for (std::size_t column = 0; column < lines[line].size(); ++column) {
      const std::uint8_t* rows = glyph_rows(lines[line][column]);
      const std::int64_t origin_x = static_cast<std::int64_t>(column) * kGlyphAdvance * scale;
      const std::int64_t origin_y = static_cast<std::int64_t>(line) * kLineAdvance * scale;
      for (int gy = 0; gy < kGlyphHeight; ++gy) {
        for (int gx = 0; gx < kGlyphWidth; ++gx) {
          if ((rows[gy] >> (kGlyphWidth - 1 - gx) & 1u) == 0) continue;
          for (int sy = 0; sy < scale; ++sy) {
            std::uint8_t* out = ink.data() + (origin_y + gy * scale + sy) * size.width +
                                origin_x + gx * scale;
            std::memset(out, 1, static_cast<std::size_t>(scale));
          }
        }
      }
    }
  }
  const at::Tensor block = at::from_blob(ink.data(), {size.height, size.width}, at::kByte)
                               .slice(0, top - y, bottom - y)
                               .slice(1, left - x, right - x)
                               .to(image.device(), at::kBool, /*non_blocking=*/false, /*copy=*/true);
  const at::Tensor rgb = at::tensor({color[0], color[1], color[2]}, at::kByte).to(image.device());
  at::Tensor region = image.slice(0, top, bottom).slice(1, left, right);
  region.copy_(at::where(block.unsqueeze(2), rgb.view({1, 1, 3}), region));
}

}  // namespace rtseg::framework
