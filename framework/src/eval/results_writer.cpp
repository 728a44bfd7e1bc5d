// Detections as a COCO results file, written by hand: a results list can hold millions of
// numbers, and shortest round-trip formatting keeps the file small and exact.
#include <charconv>
#include <cmath>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/framework/eval/coco_report.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework::eval {
namespace {

template <class Number>
void append_number(std::string& out, Number value, std::size_t index) {
  if (!std::isfinite(value)) {
    throw sdk::DataError("detection " + std::to_string(index) + ": a box or score that is not finite");
  }
  char text[40];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  out.append(text, end);
}

}  // namespace

std::string coco_results_json(const std::vector<Detection>& detections, const std::vector<sdk::Category>& categories) {
  std::string out = "[";
  out.reserve(detections.size() * 120);
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const Detection& detection = detections[i];
    if (detection.label < 0 || detection.label >= static_cast<std::int64_t>(categories.size())) {
      throw sdk::DataError("detection " + std::to_string(i) + ": label " + std::to_string(detection.label) +
                           " is not one of the " + std::to_string(categories.size()) + " categories");
    }
    out += i ? ",\n" : "\n";
    out += "{\"image_id\": " + std::to_string(detection.image_id) +
           ", \"category_id\": " + std::to_string(categories[static_cast<std::size_t>(detection.label)].id) +
           ", \"bbox\": [";
    for (int c = 0; c < 4; ++c) {
      if (c) out += ", ";
      append_number(out, detection.box_xywh[c], i);
    }
    out += "], \"score\": ";
    append_number(out, detection.score, i);
    if (detection.mask) {
      out += ", \"segmentation\": {\"size\": [" + std::to_string(detection.mask->height) + ", " +
             std::to_string(detection.mask->width) + "], \"counts\": \"";
      // Compressed counts are '0'..'o': of those only the backslash needs escaping in JSON.
      for (const char c : sdk::masks::to_string(*detection.mask)) {
        if (c == '\\') out += '\\';
        out += c;
      }
      out += "\"}";
    }
    out += "}";
  }
  out += detections.empty() ? "]\n" : "\n]\n";
  return out;
}

void write_coco_results(const std::filesystem::path& file, const std::vector<Detection>& detections,
                        const std::vector<sdk::Category>& categories) {
  sdk::write_file_atomically(file, coco_results_json(detections, categories));
}

}  // namespace rtseg::framework::eval
