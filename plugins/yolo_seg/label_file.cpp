#include "label_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

namespace rtseg::plugins::yolo_seg {
namespace {

std::vector<std::string_view> tokens_of(std::string_view line) {
  std::vector<std::string_view> tokens;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && std::isspace(static_cast<unsigned char>(line[pos]))) ++pos;
    const std::size_t begin = pos;
    while (pos < line.size() && !std::isspace(static_cast<unsigned char>(line[pos]))) ++pos;
    if (pos > begin) tokens.push_back(line.substr(begin, pos - begin));
  }
  return tokens;
}

bool to_double(std::string_view token, double& value) {
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  return error == std::errc() && end == token.data() + token.size();
}

// Empty when the row is usable (then `annotation` is filled), else why not.
std::string read_row(const std::vector<std::string_view>& tokens, std::int64_t class_count,
                     std::int64_t width, std::int64_t height, sdk::Annotation& annotation) {
  double class_value = 0;
  if (!to_double(tokens[0], class_value) || std::floor(class_value) != class_value) {
    return "class \"" + std::string(tokens[0]) + "\" is not an integer";
  }
  if (class_value < 0 || class_value >= static_cast<double>(class_count)) {
    return "class " + std::string(tokens[0]) + " is not in names (0.." +
           std::to_string(class_count - 1) + ")";
  }
  const std::size_t coordinates = tokens.size() - 1;
  if (coordinates != 4 && coordinates % 2 != 0) {
    return "odd number of coordinates (" + std::to_string(coordinates) + ")";
  }
  // 4 coordinates are a box; fewer, a polygon of less than 3 points.
  if (coordinates == 0) return "no coordinates";
  if (coordinates == 2) return "polygon with 1 point (needs 3)";
  std::vector<double> values(coordinates);
  for (std::size_t i = 0; i < coordinates; ++i) {
    if (!to_double(tokens[i + 1], values[i]) || !std::isfinite(values[i])) {
      return "\"" + std::string(tokens[i + 1]) + "\" is not a finite number";
    }
    if (values[i] < -kCoordinateTolerance || values[i] > 1 + kCoordinateTolerance) {
      return "value " + std::string(tokens[i + 1]) +
             " is outside [0, 1] (coordinates are normalised)";
    }
    values[i] = std::clamp(values[i], 0.0, 1.0);
  }
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  annotation.label = static_cast<std::int64_t>(class_value);
  if (coordinates == 4) {  // cx cy w h
    if (values[2] <= 0 || values[3] <= 0) return "box with zero width or height";
    // A centre near an edge can put part of the box outside the image: clipped, as Ultralytics
    // clips its boxes.
    const double x0 = std::max(0.0, (values[0] - values[2] / 2) * w);
    const double y0 = std::max(0.0, (values[1] - values[3] / 2) * h);
    const double x1 = std::min(w, (values[0] + values[2] / 2) * w);
    const double y1 = std::min(h, (values[1] + values[3] / 2) * h);
    if (x1 <= x0 || y1 <= y0) return "box outside the image";
    annotation.box_xywh = {x0, y0, x1 - x0, y1 - y0};
    annotation.area = (x1 - x0) * (y1 - y0);
    return {};
  }
  std::vector<double> polygon(coordinates);
  double min_x = w, min_y = h, max_x = 0, max_y = 0, twice_area = 0;
  const std::size_t points = coordinates / 2;
  for (std::size_t p = 0; p < points; ++p) {
    polygon[2 * p] = values[2 * p] * w;
    polygon[2 * p + 1] = values[2 * p + 1] * h;
  }
  for (std::size_t p = 0; p < points; ++p) {
    const double x = polygon[2 * p], y = polygon[2 * p + 1];
    const std::size_t q = (p + 1) % points;
    twice_area += x * polygon[2 * q + 1] - polygon[2 * q] * y;
    min_x = std::min(min_x, x), max_x = std::max(max_x, x);
    min_y = std::min(min_y, y), max_y = std::max(max_y, y);
  }
  const double area = std::fabs(twice_area) / 2;
  if (!(area > 0)) return "polygon with zero area";
  annotation.box_xywh = {min_x, min_y, max_x - min_x, max_y - min_y};
  annotation.area = area;
  annotation.segmentation.polygons.push_back(std::move(polygon));
  return {};
}

}  // namespace

LabelRows parse_label_rows(std::string_view text, std::int64_t class_count, std::int64_t width,
                           std::int64_t height) {
  LabelRows rows;
  std::unordered_map<std::string, int> first_line;  // normalised row -> line number
  int line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const std::vector<std::string_view> tokens = tokens_of(line);
    if (tokens.empty()) continue;
    std::string normalised;
    for (std::string_view token : tokens) normalised.append(token).push_back(' ');
    const auto [first, inserted] = first_line.emplace(normalised, line_number);
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (!inserted) {
      rows.problems.push_back(where + "repeats line " + std::to_string(first->second) +
                              "; skipped");
      continue;
    }
    sdk::Annotation annotation;
    const std::string problem = read_row(tokens, class_count, width, height, annotation);
    if (!problem.empty()) {
      rows.problems.push_back(where + problem + "; skipped");
      continue;
    }
    rows.annotations.push_back(std::move(annotation));
  }
  return rows;
}

}  // namespace rtseg::plugins::yolo_seg
