#pragma once

#include <cstdint>
#include <string_view>

#include <torch/types.h>

#include "rtseg/framework/draw.h"

/// A small embedded bitmap font for labels on pictures (prediction overlays, plots), so drawing
/// text needs no font files or libraries. Printable ASCII (32..126); any other byte is drawn as
/// '?'. '\n' starts a new line.
///
/// Each glyph is 5 x 8 pixels (capitals and digits use the top 7 rows, the 8th holds descenders),
/// set on a 6 x 9 cell: one blank column between characters, one blank row between lines. All
/// sizes scale by an integer factor.
namespace rtseg::framework {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 8;
inline constexpr int kGlyphAdvance = 6;  ///< horizontal distance between character origins
inline constexpr int kLineAdvance = 9;   ///< vertical distance between line origins

/// Pixel size of a text block.
struct TextSize {
  std::int64_t width = 0;
  std::int64_t height = 0;
};

/// The size draw_text covers for `text` at `scale` (>= 1; smaller counts as 1): the widest line's
/// glyphs without trailing spacing, and the lines' height. {0, 0} for an empty text.
TextSize text_size(std::string_view text, int scale = 1);

/// Draws `text` into an RGB uint8 [H, W, 3] image (the draw.h convention; any device) with its
/// top-left corner at (x, y) pixels. Only the glyphs' set pixels are written (the background is
/// left as it is; see draw_label for a filled one); whatever falls outside the image is clipped.
void draw_text(torch::Tensor& image, std::int64_t x, std::int64_t y, std::string_view text,
               Color color, int scale = 1);

/// The glyph of one character as 8 rows of 5 bits (bit 4 = leftmost column); for tests and for
/// callers that rasterise text themselves.
const std::uint8_t* glyph_rows(char c);

}  // namespace rtseg::framework
