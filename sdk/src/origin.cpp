#include "rtseg/sdk/origin.h"

namespace rtseg::sdk {

std::string Origin::to_string() const {
  if (file.empty()) return note.empty() ? std::string("(unknown origin)") : note;
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace rtseg::sdk
