#include "yaml_subset.h"

#include <optional>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::yolo_seg {
namespace {

struct Line {
  int number = 0;
  int indent = 0;
  bool tab_in_indent = false;
  std::string text;  ///< without indentation, comment and trailing spaces
};

[[noreturn]] void fail(const std::string& file, int line, const std::string& problem) {
  throw sdk::DataError(file + ":" + std::to_string(line) + ": " + problem);
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string trim(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && (is_space(text[end - 1]) || text[end - 1] == '\r')) --end;
  return std::string(text.substr(begin, end - begin));
}

// Cuts a `#` comment (at the start or after a space, outside quotes).
std::string strip_comment(std::string_view text) {
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote == '"' && c == '\\') {
      ++i;
    } else if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && (i == 0 || is_space(text[i - 1]))) {
      return std::string(text.substr(0, i));
    }
  }
  return std::string(text);
}

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view raw = text.substr(start, end - start);
    Line line;
    line.number = ++number;
    std::size_t i = 0;
    while (i < raw.size() && is_space(raw[i])) {
      line.tab_in_indent = line.tab_in_indent || raw[i] == '\t';
      ++i;
    }
    line.indent = static_cast<int>(i);
    line.text = trim(strip_comment(raw.substr(i)));
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// Position of the `:` that ends a mapping key (followed by a space or the end), outside quotes.
std::optional<std::size_t> key_colon(std::string_view text) {
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if ((c == '\'' || c == '"') && i == 0) {
      quote = c;
    } else if (c == ':' && (i + 1 == text.size() || is_space(text[i + 1]))) {
      return i;
    }
  }
  return std::nullopt;
}

// A quoted scalar starting at text[pos]; moves pos past the closing quote.
std::string quoted(std::string_view text, std::size_t& pos, const std::string& file, int line) {
  const char quote = text[pos++];
  std::string out;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quote == '\'' && c == '\'') {
      if (pos < text.size() && text[pos] == '\'') {
        out += '\'';
        ++pos;
        continue;
      }
      return out;
    }
    if (quote == '"' && c == '"') return out;
    if (quote == '"' && c == '\\' && pos < text.size()) {
      const char escaped = text[pos++];
      out += escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
      continue;
    }
    out += c;
  }
  fail(file, line, std::string("unclosed ") + quote + " quote");
}

// A whole scalar value: quoted, or plain (`~` and `null` mean empty).
std::string scalar(std::string_view text, const std::string& file, int line) {
  const std::string value = trim(text);
  if (!value.empty() && (value[0] == '\'' || value[0] == '"')) {
    std::size_t pos = 0;
    std::string out = quoted(value, pos, file, line);
    if (!trim(value.substr(pos)).empty())
      fail(file, line, "unexpected text after the quoted value");
    return out;
  }
  if (value == "~" || value == "null" || value == "Null" || value == "NULL") return {};
  return value;
}

YamlValue unsupported(int line, std::string why) {
  YamlValue value;
  value.kind = YamlValue::Kind::kUnsupported;
  value.unsupported = std::move(why);
  value.line = line;
  return value;
}

// `- item` (a dash followed by a space or nothing); "-1" is a plain scalar.
bool is_block_item(std::string_view text) {
  return !text.empty() && text[0] == '-' && (text.size() == 1 || is_space(text[1]));
}

// What YAML would read as something other than a scalar: collections, block scalars, anchors...
bool starts_non_scalar(std::string_view text) {
  return is_block_item(text) ||
         (!text.empty() && std::string_view("[{|>&*!").find(text[0]) != std::string_view::npos);
}

// `[a, 'b']` or `{0: a, 1: "b"}` holding scalars.
YamlValue flow(const std::string& text, const std::string& file, int line) {
  const bool is_list = text[0] == '[';
  const char close = is_list ? ']' : '}';
  YamlValue value;
  value.kind = is_list ? YamlValue::Kind::kList : YamlValue::Kind::kMap;
  value.line = line;
  std::size_t pos = 1;
  auto skip_spaces = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  // Reads one scalar up to any of `stops` (outside quotes).
  auto item = [&](std::string_view stops) {
    skip_spaces();
    if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"'))
      return quoted(text, pos, file, line);
    const std::size_t begin = pos;
    while (pos < text.size() && stops.find(text[pos]) == std::string_view::npos) ++pos;
    return scalar(std::string_view(text).substr(begin, pos - begin), file, line);
  };
  while (true) {
    skip_spaces();
    if (pos >= text.size()) fail(file, line, std::string("unclosed ") + text[0]);
    if (text[pos] == close) break;
    if (text[pos] == '[' || text[pos] == '{') return unsupported(line, "nested collections");
    if (is_list) {
      value.items.push_back(item(std::string(",") + close));
    } else {
      std::string key = item(std::string(":,") + close);
      skip_spaces();
      if (pos >= text.size() || text[pos] != ':')
        fail(file, line, "expected `key: value` in {...}");
      ++pos;
      skip_spaces();
      if (pos < text.size() && (text[pos] == '[' || text[pos] == '{'))
        return unsupported(line, "nested collections");
      value.entries.emplace_back(std::move(key), item(std::string(",") + close));
    }
    skip_spaces();
    if (pos >= text.size()) fail(file, line, std::string("unclosed ") + text[0]);
    if (text[pos] == ',') {
      ++pos;
    } else if (text[pos] != close) {
      fail(file, line, std::string("expected , or ") + close);
    }
  }
  if (!trim(std::string_view(text).substr(pos + 1)).empty()) {
    fail(file, line, std::string("unexpected text after ") + close);
  }
  return value;
}

// The lines below a key with no inline value: a block list (`- a`) or block mapping (`k: v`).
YamlValue block(const std::vector<const Line*>& lines, const std::string& file, int line) {
  YamlValue value;
  value.line = line;
  const int indent = lines.front()->indent;
  const bool is_list = is_block_item(lines.front()->text);
  value.kind = is_list ? YamlValue::Kind::kList : YamlValue::Kind::kMap;
  for (const Line* entry : lines) {
    if (entry->indent != indent) return unsupported(line, "nested collections");
    const std::string& text = entry->text;
    if (is_list) {
      if (!is_block_item(text)) return unsupported(line, "a list mixed with other lines");
      const std::string item = trim(std::string_view(text).substr(1));
      if (starts_non_scalar(item) || key_colon(item))
        return unsupported(line, "nested collections");
      value.items.push_back(scalar(item, file, entry->number));
    } else {
      const auto colon = key_colon(text);
      if (!colon) fail(file, entry->number, "expected `key: value`");
      const std::string rest = trim(std::string_view(text).substr(*colon + 1));
      if (starts_non_scalar(rest)) return unsupported(line, "nested collections");
      value.entries.emplace_back(
          scalar(std::string_view(text).substr(0, *colon), file, entry->number),
          scalar(rest, file, entry->number));
    }
  }
  return value;
}

YamlValue parse_value(const std::string& rest, const std::vector<const Line*>& lines,
                      const std::string& file, int line) {
  if (rest.empty()) {
    if (lines.empty()) return YamlValue{YamlValue::Kind::kScalar, "", {}, {}, {}, line};
    return block(lines, file, line);
  }
  if (rest[0] == '[' || rest[0] == '{') {
    std::string text = rest;
    for (const Line* more : lines) text += " " + more->text;
    return flow(text, file, line);
  }
  if (std::string("|>").find(rest[0]) != std::string::npos)
    return unsupported(line, "block scalars (| and >)");
  if (std::string("&*!").find(rest[0]) != std::string::npos)
    return unsupported(line, "anchors, aliases and tags");
  if (!lines.empty()) return unsupported(line, "a value continued on the next lines");
  return YamlValue{YamlValue::Kind::kScalar, scalar(rest, file, line), {}, {}, {}, line};
}

}  // namespace

YamlDocument parse_yaml_subset(std::string_view text, const std::string& file) {
  YamlDocument document;
  document.file = file;
  const std::vector<Line> lines = split_lines(text);
  bool seen_key = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (line.text.empty()) continue;
    if (!seen_key && line.indent == 0 && line.text == "---") continue;
    if (line.indent == 0 && line.text == "...") break;
    if (line.tab_in_indent) fail(file, line.number, "tabs are not allowed in indentation");
    if (line.indent > 0)
      fail(file, line.number, "unexpected indentation (top-level keys start in column 1)");
    if (is_block_item(line.text))
      fail(file, line.number, "expected `key: value`; the file must be a mapping, not a list");
    const auto colon = key_colon(line.text);
    if (!colon) fail(file, line.number, "expected `key: value`");
    const std::string key =
        scalar(std::string_view(line.text).substr(0, *colon), file, line.number);
    const std::string rest = trim(std::string_view(line.text).substr(*colon + 1));

    // The value's further lines: indented ones, and `- ` items in column 1 under an empty value.
    std::vector<const Line*> more;
    std::size_t next = i + 1;
    for (; next < lines.size(); ++next) {
      const Line& candidate = lines[next];
      if (candidate.text.empty()) continue;
      const bool column_one_item =
          rest.empty() && candidate.indent == 0 && is_block_item(candidate.text);
      if (candidate.indent == 0 && !column_one_item) break;
      if (candidate.tab_in_indent)
        fail(file, candidate.number, "tabs are not allowed in indentation");
      more.push_back(&candidate);
    }
    i = next - 1;
    seen_key = true;

    YamlValue value = parse_value(rest, more, file, line.number);
    const auto [found, inserted] = document.values.emplace(key, std::move(value));
    if (!inserted) {
      fail(file, line.number,
           "key \"" + key + "\" given twice (first on line " + std::to_string(found->second.line) +
               ")");
    }
  }
  return document;
}

}  // namespace rtseg::plugins::yolo_seg
