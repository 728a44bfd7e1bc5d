#pragma once

// Comma-separated command-line lists of the benchmarks ("1,2,4", "fp32,bf16").

#include <cstdint>
#include <string>
#include <vector>

namespace rtseg::bench {

/// "a,b,c" -> {"a", "b", "c"}; "" -> {""} (one empty item: "the recipe's own").
inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

/// "1,2,4" -> {1, 2, 4}; empty items are skipped.
inline std::vector<std::int64_t> int_list(const std::string& text) {
  std::vector<std::int64_t> values;
  for (const std::string& item : split_list(text)) {
    if (!item.empty()) values.push_back(std::stoll(item));
  }
  return values;
}

}  // namespace rtseg::bench
