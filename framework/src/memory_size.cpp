#include "rtseg/framework/memory_size.h"

#include <algorithm>
#include <cctype>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {

std::int64_t parse_memory_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  if (unit == "g" || unit == "gb" || unit == "gib") scale = 1024.0 * 1024 * 1024;
  if (unit == "m" || unit == "mb" || unit == "mib") scale = 1024.0 * 1024;
  if (used == 0 || scale == 0 || !(value > 0)) {
    throw sdk::ConfigError("\"" + text + "\": expected a size such as 4GiB, 6GB or 512MiB.");
  }
  return static_cast<std::int64_t>(value * scale);
}

}  // namespace rtseg::framework
