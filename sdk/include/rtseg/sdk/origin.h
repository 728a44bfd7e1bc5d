#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// Where a recipe value came from: a file position, or a note such as "command line (--set ...)".
struct RTSEG_SDK_API Origin {
  std::string file;      ///< recipe file as given (relative paths stay relative); empty if none
  std::int64_t line = 0;    ///< 1-based; 0 when unknown
  std::int64_t column = 0;  ///< 1-based; 0 when unknown
  std::string note;      ///< used when there is no file, e.g. "command line (--set train.batch=4)"

  /// "file:line:col", "file", or the note.
  std::string to_string() const;
};

/// Looks up the origin of a dotted recipe path such as "model.backbone.depth".
using OriginLookup = std::function<Origin(std::string_view dotted_path)>;

}  // namespace rtseg::sdk
