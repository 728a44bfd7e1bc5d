#include "rtseg/sdk/config_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include <toml++/toml.h>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/suggest.h"

namespace rtseg::sdk {
namespace {

// ---- type names and default spellings, as `rtseg plugins` prints them -------------------------

template <class T> struct TypeName;
template <> struct TypeName<bool> { static constexpr const char* value = "bool"; };
template <> struct TypeName<int> { static constexpr const char* value = "int"; };
template <> struct TypeName<std::int64_t> { static constexpr const char* value = "int"; };
template <> struct TypeName<float> { static constexpr const char* value = "float"; };
template <> struct TypeName<double> { static constexpr const char* value = "float"; };
template <> struct TypeName<std::string> { static constexpr const char* value = "string"; };
template <> struct TypeName<std::vector<std::int64_t>> { static constexpr const char* value = "list of int"; };
template <> struct TypeName<std::vector<double>> { static constexpr const char* value = "list of float"; };
template <> struct TypeName<std::vector<std::string>> { static constexpr const char* value = "list of string"; };

std::string spell(bool value) { return value ? "true" : "false"; }
std::string spell(std::int64_t value) { return std::to_string(value); }
std::string spell(int value) { return std::to_string(value); }
std::string spell(double value) {
  // Shortest round-trip text; plain decimals in the usual range (0.0001, not 1e-04).
  char buffer[64];
  const double magnitude = std::abs(value);
  const bool plain = magnitude == 0 || (magnitude >= 1e-5 && magnitude < 1e15);
  auto result = plain ? std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed)
                      : std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  // TOML needs a dot or exponent to read it back as a float.
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}
std::string spell(float value) { return spell(static_cast<double>(value)); }
std::string spell(const std::string& value) { return "\"" + value + "\""; }
template <class T>
std::string spell(const std::vector<T>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + spell(values[i]);
  return out + "]";
}

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "a list";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// ---- conversion of one TOML node; returns false when the node has another type ----------------

bool convert(const toml::node& node, bool& out) {
  if (auto v = node.value_exact<bool>()) return out = *v, true;
  return false;
}
bool convert(const toml::node& node, std::int64_t& out) {
  if (auto v = node.value_exact<std::int64_t>()) return out = *v, true;
  return false;
}
bool convert(const toml::node& node, double& out) {
  if (node.is_floating_point()) return out = *node.value_exact<double>(), true;
  if (node.is_integer()) return out = static_cast<double>(*node.value_exact<std::int64_t>()), true;
  return false;
}
bool convert(const toml::node& node, std::string& out) {
  if (auto v = node.value_exact<std::string>()) return out = *v, true;
  return false;
}
template <class T>
bool convert(const toml::node& node, std::vector<T>& out) {
  const toml::array* array = node.as_array();
  if (!array) return false;
  out.clear();
  for (const toml::node& element : *array) {
    T value{};
    if (!convert(element, value)) return false;
    out.push_back(std::move(value));
  }
  return true;
}

}  // namespace

// ---- state -----------------------------------------------------------------------------------

struct ConfigReader::State {
  const toml::table* table = nullptr;  // null: absent section, or describing
  std::string path;                    // dotted recipe path of this section
  std::string label;                   // for messages: "backbone 'dinov2'"
  OriginLookup origin_of;
  bool describing = false;
  std::string doc_prefix;              // key prefix of this section's docs ("" at the top)
  std::shared_ptr<std::vector<OptionDoc>> docs = std::make_shared<std::vector<OptionDoc>>();
  std::set<std::string, std::less<>> read_keys;     // keys this reader asked for
  std::vector<std::string> known_keys;              // same, in reading order, for messages
  std::vector<std::unique_ptr<ConfigReader>> sections;

  std::string dotted(std::string_view key) const {
    if (path.empty()) return std::string(key);
    return key.empty() ? path : path + "." + std::string(key);
  }

  void note(std::string_view key, std::string type, std::string default_value,
            std::string_view doc, bool required) {
    if (read_keys.insert(std::string(key)).second) known_keys.emplace_back(key);
    if (!describing) return;
    docs->push_back(OptionDoc{doc_prefix + std::string(key), std::move(type),
                              std::move(default_value), std::string(doc), required});
  }

  const toml::node* find(std::string_view key) const {
    if (!table) return nullptr;
    return table->get(key);
  }
};

ConfigReader::ConfigReader(std::unique_ptr<State> state) : state_(std::move(state)) {}

ConfigReader::ConfigReader(const toml::table* table, std::string path, std::string label,
                           OriginLookup origin_of)
    : state_(std::make_unique<State>()) {
  state_->table = table;
  state_->path = std::move(path);
  state_->label = std::move(label);
  state_->origin_of = std::move(origin_of);
}

ConfigReader ConfigReader::describing(std::string path, std::string label) {
  auto state = std::make_unique<State>();
  state->path = std::move(path);
  state->label = std::move(label);
  state->describing = true;
  return ConfigReader(std::move(state));
}

ConfigReader::ConfigReader(ConfigReader&&) noexcept = default;
ConfigReader& ConfigReader::operator=(ConfigReader&&) noexcept = default;
ConfigReader::~ConfigReader() = default;

bool ConfigReader::describing() const noexcept { return state_->describing; }
const std::string& ConfigReader::path() const noexcept { return state_->path; }
const std::vector<OptionDoc>& ConfigReader::docs() const noexcept { return *state_->docs; }

Origin ConfigReader::origin(std::string_view key) const {
  if (!state_->origin_of) return Origin{};
  Origin found = state_->origin_of(state_->dotted(key));
  // An absent key is reported where its section is.
  if (found.file.empty() && found.note.empty() && !key.empty()) return origin({});
  return found;
}

void ConfigReader::fail(std::string_view key, std::string_view problem) const {
  std::string where = origin(key).to_string();
  std::string what = state_->dotted(key);
  std::string message = where + ": " + (what.empty() ? std::string("recipe") : what);
  if (!state_->label.empty()) message += " (" + state_->label + ")";
  message += ": " + std::string(problem);
  throw ConfigError(message);
}

void ConfigReader::check(bool ok, std::string_view key, std::string_view problem) const {
  if (!ok && !state_->describing) fail(key, problem);
}

bool ConfigReader::has(std::string_view key) const { return state_->find(key) != nullptr; }

void ConfigReader::skip(std::string_view key) { state_->read_keys.insert(std::string(key)); }

// ---- typed reads -----------------------------------------------------------------------------

namespace {
template <class T> struct Storage { using type = T; };
template <> struct Storage<int> { using type = std::int64_t; };
template <> struct Storage<float> { using type = double; };
}  // namespace

template <class T>
T ConfigReader::get(std::string_view key, T fallback, std::string_view doc) {
  state_->note(key, TypeName<T>::value, spell(fallback), doc, false);
  const toml::node* node = state_->describing ? nullptr : state_->find(key);
  if (!node) return fallback;
  typename Storage<T>::type value{};
  if (!convert(*node, value)) {
    fail(key, std::string("expected ") + TypeName<T>::value + ", found " +
                  std::string(toml_type_name(node->type())) + ".");
  }
  if constexpr (std::is_same_v<T, int>) {
    if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
      fail(key, "value " + std::to_string(value) + " is out of range.");
  }
  return static_cast<T>(value);
}

std::string ConfigReader::get(std::string_view key, const char* fallback, std::string_view doc) {
  return get<std::string>(key, std::string(fallback), doc);
}

template <class T>
T ConfigReader::require(std::string_view key, std::string_view doc) {
  state_->note(key, TypeName<T>::value, "", doc, true);
  if (state_->describing) return T{};
  if (!state_->find(key)) fail(key, "this key is required (" + std::string(doc) + ").");
  return get<T>(key, T{}, doc);
}

std::string ConfigReader::choice(std::string_view key, std::string fallback,
                                 const std::vector<std::string>& allowed, std::string_view doc) {
  std::string full_doc = std::string(doc) + " (one of: " + join_names(allowed) + ")";
  std::string value = get<std::string>(key, std::move(fallback), full_doc);
  if (!state_->describing && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    fail(key, "'" + value + "' is not one of: " + join_names(allowed) + "." +
                  did_you_mean(value, allowed));
  }
  return value;
}

ConfigReader& ConfigReader::section(std::string_view key, std::string_view doc) {
  const std::string child_path = state_->dotted(key);
  for (const auto& existing : state_->sections) {
    if (existing->path() == child_path) return *existing;
  }
  state_->note(key, "table", "", doc, false);
  auto child = std::make_unique<State>();
  child->path = child_path;
  child->label = state_->label;
  child->origin_of = state_->origin_of;
  child->describing = state_->describing;
  child->doc_prefix = state_->doc_prefix + std::string(key) + ".";
  child->docs = state_->docs;
  if (const toml::node* node = state_->find(key)) {
    child->table = node->as_table();
    if (!child->table) {
      fail(key, "expected a table, found " + std::string(toml_type_name(node->type())) + ".");
    }
  }
  state_->sections.push_back(std::unique_ptr<ConfigReader>(new ConfigReader(std::move(child))));
  return *state_->sections.back();
}

void ConfigReader::finish() const {
  if (state_->describing) return;
  for (const auto& section : state_->sections) section->finish();
  if (!state_->table) return;

  std::vector<std::string> unknown;
  for (const auto& [key, node] : *state_->table) {
    if (!state_->read_keys.count(key.str())) unknown.emplace_back(key.str());
  }
  if (unknown.empty()) return;

  // The first unknown key decides the location; every unknown key is listed.
  std::string problem;
  for (std::size_t i = 0; i < unknown.size(); ++i) {
    if (i) problem += "\n  " + origin(unknown[i]).to_string() + ": " + state_->dotted(unknown[i]) + ": ";
    problem += "unknown key '" + unknown[i] + "'." + did_you_mean(unknown[i], state_->known_keys);
  }
  problem += "\n  Valid keys here: " + join_names(state_->known_keys) + ".";
  fail(unknown.front(), problem);
}

#define RTSEG_CONFIG_READER_INSTANTIATE(T)                                              \
  template RTSEG_SDK_API T ConfigReader::get<T>(std::string_view, T, std::string_view); \
  template RTSEG_SDK_API T ConfigReader::require<T>(std::string_view, std::string_view);
RTSEG_CONFIG_READER_INSTANTIATE(bool)
RTSEG_CONFIG_READER_INSTANTIATE(int)
RTSEG_CONFIG_READER_INSTANTIATE(std::int64_t)
RTSEG_CONFIG_READER_INSTANTIATE(float)
RTSEG_CONFIG_READER_INSTANTIATE(double)
RTSEG_CONFIG_READER_INSTANTIATE(std::string)
RTSEG_CONFIG_READER_INSTANTIATE(std::vector<std::int64_t>)
RTSEG_CONFIG_READER_INSTANTIATE(std::vector<double>)
RTSEG_CONFIG_READER_INSTANTIATE(std::vector<std::string>)
#undef RTSEG_CONFIG_READER_INSTANTIATE

}  // namespace rtseg::sdk
