// Fuzz target: bytes as a recipe, through the TOML reader, the host's strict key checks, the
// expansion of [[stage]] entries and the printer (`rtseg recipe show`).
//
// Every input must either be refused with rtseg::sdk::Error (ConfigError: the file, line and key)
// or be read; a recipe that is read prints as TOML that parses back to the same values (what
// print_recipe promises). Anything else (a crash, another exception, a sanitizer report) is a bug.
// `extends` is not followed (it reads other files).
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] recipe_toml`. The replay build (ctest
// recipe_toml_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/sdk/errors.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// The printed recipe parses back to the same values.
void check_round_trip(const rtseg::framework::RecipeDocument& document) {
  std::ostringstream printed;
  rtseg::framework::print_recipe(printed, document);
  const auto again = rtseg::framework::RecipeDocument::parse_text(printed.str(), "fuzz/printed.toml");
  require(again.root() == document.root());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace framework = rtseg::framework;
  framework::LoadedRecipe recipe;
  try {
    recipe.document = framework::RecipeDocument::parse_text(text, "fuzz/recipe.toml");
  } catch (const rtseg::sdk::Error&) {
    return 0;  // not TOML
  }
  check_round_trip(recipe.document);
  try {
    for (const framework::Stage& stage : framework::expand_stages(recipe)) {
      framework::check_host_keys(stage.document);
      check_round_trip(stage.document);
    }
  } catch (const rtseg::sdk::Error&) {
    // Expected for bad recipes.
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>

#include "replay.h"

// Replaces, inserts, deletes and duplicates characters, favouring TOML's structure: brackets,
// quotes, equals signs, dots, digits and line breaks.
rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  static const char kInteresting[] = "[]{}=\"'.,#\n 0123456789-+_eEtruefalsinf";
  const auto interesting = [&] {
    return static_cast<std::uint8_t>(kInteresting[random() % (sizeof(kInteresting) - 1)]);
  };
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const std::size_t at = random() % bytes.size();
    switch (random() % 4) {
      case 0: bytes[at] = interesting(); break;
      case 1: bytes.insert(bytes.begin() + at, interesting()); break;
      case 2: bytes.erase(bytes.begin() + at, bytes.begin() + std::min(bytes.size(), at + 1 + random() % 8)); break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 32, bytes.size() - at);
        const Bytes run(bytes.begin() + at, bytes.begin() + at + length);
        bytes.insert(bytes.begin() + random() % bytes.size(), run.begin(), run.end());
      }
    }
  }
  return bytes;
}
#endif
