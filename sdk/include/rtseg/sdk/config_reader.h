#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/export.h"
#include "rtseg/sdk/origin.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace rtseg::sdk {

/// One documented option, as `rtseg plugins` and docs/recipes.md show it.
struct OptionDoc {
  std::string key;            ///< relative to the component section, dotted for sub-tables
  std::string type;           ///< "int", "float", "bool", "string", "list of int", ...
  std::string default_value;  ///< TOML spelling of the default; empty when required
  std::string doc;            ///< one line
  bool required = false;
};

/// Typed, strict reading of one TOML table (a recipe section).
///
/// Every read names the key, its default and a one-line doc. After the owner has read what it
/// knows, finish() turns every key that was never read into an error that gives the file, line and
/// column, the dotted path and a "did you mean" hint. Errors are ConfigError.
///
/// The same reading code documents the options: a reader made by describing() returns the
/// defaults without looking at any table and records an OptionDoc per key. Reading code must
/// therefore have no side effects; validation goes through check()/choice(), which do nothing
/// while describing.
///
/// Supported T: bool, int, int64_t, float, double, std::string, and std::vector of int64_t,
/// double, std::string. Integers are accepted where a float is expected.
/// Not thread-safe; a reader is used by one component's factory at a time.
class RTSEG_SDK_API ConfigReader {
 public:
  /// Reads `table` (may be null: an absent section). `path` is its dotted recipe path
  /// ("model.backbone"), `label` names the reader in messages ("backbone 'dinov2'").
  ConfigReader(const toml::table* table, std::string path, std::string label,
               OriginLookup origin_of);
  /// A reader that documents instead of reading.
  static ConfigReader describing(std::string path, std::string label);

  ConfigReader(ConfigReader&&) noexcept;
  ConfigReader& operator=(ConfigReader&&) noexcept;
  ~ConfigReader();

  /// The value at `key`, or `fallback` when the key is absent.
  template <class T>
  T get(std::string_view key, T fallback, std::string_view doc);
  std::string get(std::string_view key, const char* fallback, std::string_view doc);

  /// The value at `key`; absent is an error.
  template <class T>
  T require(std::string_view key, std::string_view doc);

  /// A string that must be one of `allowed`.
  std::string choice(std::string_view key, std::string fallback,
                     const std::vector<std::string>& allowed, std::string_view doc);

  /// The sub-table at `key` (an empty reader when absent). Owned by this reader and finished
  /// with it; asking again for the same key returns the same reader.
  ConfigReader& section(std::string_view key, std::string_view doc);

  /// True when `key` is present (describing: false). Does not mark the key as read.
  bool has(std::string_view key) const;

  /// Marks `key` as handled elsewhere (e.g. the host reads `type`), so finish() accepts it.
  void skip(std::string_view key);

  /// Throws ConfigError at `key` with `problem` unless `ok`. No-op while describing.
  void check(bool ok, std::string_view key, std::string_view problem) const;
  [[noreturn]] void fail(std::string_view key, std::string_view problem) const;

  /// Rejects keys that nothing read (recursively through sections). No-op while describing.
  void finish() const;

  bool describing() const noexcept;
  /// Dotted path of this section, e.g. "model.backbone".
  const std::string& path() const noexcept;
  /// The options recorded so far (this reader and its sections).
  const std::vector<OptionDoc>& docs() const noexcept;
  /// Where `key` (or, for an empty key, this section) came from.
  Origin origin(std::string_view key = {}) const;

 private:
  struct State;
  explicit ConfigReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

#define RTSEG_CONFIG_READER_EXTERN(T)                                                     \
  extern template RTSEG_SDK_API T ConfigReader::get<T>(std::string_view, T, std::string_view); \
  extern template RTSEG_SDK_API T ConfigReader::require<T>(std::string_view, std::string_view);
RTSEG_CONFIG_READER_EXTERN(bool)
RTSEG_CONFIG_READER_EXTERN(int)
RTSEG_CONFIG_READER_EXTERN(std::int64_t)
RTSEG_CONFIG_READER_EXTERN(float)
RTSEG_CONFIG_READER_EXTERN(double)
RTSEG_CONFIG_READER_EXTERN(std::string)
RTSEG_CONFIG_READER_EXTERN(std::vector<std::int64_t>)
RTSEG_CONFIG_READER_EXTERN(std::vector<double>)
RTSEG_CONFIG_READER_EXTERN(std::vector<std::string>)
#undef RTSEG_CONFIG_READER_EXTERN

}  // namespace rtseg::sdk
