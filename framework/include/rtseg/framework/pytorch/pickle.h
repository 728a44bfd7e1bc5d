#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/core/Storage.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// A restricted unpickler for PyTorch checkpoints (torch.save files). It rebuilds plain data --
/// None, bools, ints, floats, strings, bytes, tuples, lists, sets, dicts -- tensors, and the few
/// classes a checkpoint holds, as data. Nothing in a pickle is ever called: the accepted globals
/// (see allowed_globals()) are names this reader knows how to turn into data itself, and any
/// other global is refused where it appears, with its name, before anything else happens.
namespace rtseg::framework::pytorch {

/// Index of a value in a Graph.
using Ref = std::uint32_t;
inline constexpr Ref kNoRef = std::numeric_limits<Ref>::max();

enum class Kind : std::uint8_t {
  None,
  Bool,
  Int,
  BigInt,   ///< an integer beyond 64 bits, as decimal digits in `text`
  Float,
  String,
  Bytes,
  Tuple,
  List,
  Set,      ///< set and frozenset
  Dict,     ///< dict and collections.OrderedDict, in insertion order
  Object,   ///< an instance of an accepted class (argparse.Namespace): attributes in `state`
  Class,    ///< an accepted global, by name: a class or a rebuild function
  Storage,  ///< a tensor storage named by a persistent id (made by the file reader)
  Tensor,
};

/// Name of a kind as Python would say it ("dict", "tensor", ...), for messages.
const char* kind_name(Kind kind);

struct Value {
  Kind kind = Kind::None;
  std::int64_t integer = 0;  ///< Bool (0, 1), Int; Storage: its number of elements
  double number = 0;         ///< Float
  std::string text;          ///< String, Bytes (UTF-8 checked for strings); BigInt; Class, Object,
                             ///< Storage: the global's dotted name ("argparse.Namespace")
  std::vector<Ref> items;    ///< Tuple, List, Set; Dict: key, value, key, value, ...
  Ref state = kNoRef;        ///< Object: its attributes (a Dict); Dict: instance attributes a
                             ///< pickle set with BUILD (a state dict's `_metadata`), else kNoRef
  c10::Storage storage;      ///< Storage
  c10::ScalarType dtype = c10::ScalarType::Undefined;  ///< Storage: its element type
  at::Tensor tensor;         ///< Tensor
};

/// The values one pickle built. They refer to each other by index: a pickle's memo can share a
/// value between parents and even make cycles, so the graph owns every value, not the parents.
class Graph {
 public:
  const Value& operator[](Ref ref) const { return values_.at(ref); }
  Ref root() const { return root_; }
  std::size_t size() const { return values_.size(); }

  /// The value stored under the string `key` in a Dict (or an Object's attributes), or kNoRef.
  Ref lookup(const Value& dict, std::string_view key) const;
  /// The same as a pointer, or nullptr.
  const Value* find(const Value& dict, std::string_view key) const {
    const Ref ref = lookup(dict, key);
    return ref == kNoRef ? nullptr : &values_[ref];
  }

 private:
  friend class Unpickler;
  std::vector<Value> values_;
  Ref root_ = kNoRef;
};

/// Makes the Storage value a persistent id names (for torch.save: a tuple ('storage', storage
/// class, key, location, numel), with a sixth item in the legacy format). Throws sdk::DataError.
using PersistentLoader = std::function<Value(const Graph& graph, const Value& id)>;

struct Unpickled {
  Graph graph;
  std::size_t size = 0;  ///< bytes the pickle took, up to and including its STOP
};

/// Unpickles the pickle at the start of `bytes` (protocols 2 to 5; the binary opcodes). `where`
/// starts every error message (the file, and the record in it). `load` resolves persistent ids;
/// without one a persistent id is an error. Throws sdk::DataError for a refused global, an
/// opcode this reader does not support, truncated or malformed data.
Unpickled unpickle(std::string_view bytes, const std::string& where, const PersistentLoader& load = {});

/// The globals unpickle() accepts, dotted ("collections.OrderedDict"), for messages and docs.
const std::vector<std::string>& allowed_globals();

/// Element type of a storage class ("torch.FloatStorage" -> Float), nullopt for other names.
std::optional<c10::ScalarType> storage_dtype(std::string_view class_name);

/// `value` as Python's json.dumps(value, default=repr) would write it: tuples become lists, dict
/// keys that are ints, floats, bools or None become strings, and values JSON has no form for
/// (bytes, sets, tensors, objects, big integers) become their Python repr. Throws
/// sdk::DataError for values nested more than 64 levels deep (or circular) or too large.
nlohmann::json to_json(const Graph& graph, Ref value);

/// Python's repr of `value`, close enough to read (tensors and storages are summarised).
std::string repr(const Graph& graph, Ref value);

}  // namespace rtseg::framework::pytorch
