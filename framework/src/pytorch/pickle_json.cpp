// Unpickled values as JSON and as Python's repr (pickle.h).
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "rtseg/framework/pytorch/pickle.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::pytorch {
namespace {

// A pickle's memo can make a value graph circular, or exponentially large once unfolded into a
// tree (each list holding the previous one twice): both conversions stop at these limits.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNodes = 1'000'000;

// Python's repr of a float: the shortest digits that read back the same, written positionally
// for exponents -4 to 15 ("0.0001", "123.0") and as d.ddde+XX otherwise ("1e-05", "1e+16").
std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string text(buffer, result.ptr);  // "-1.25e-05"
  std::string sign;
  if (text[0] == '-') sign = "-", text.erase(0, 1);
  const std::size_t e = text.find('e');
  const int exponent = std::stoi(text.substr(e + 1));
  std::string digits = text.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  if (exponent < -4 || exponent >= 16) {
    const std::string mantissa = digits.size() > 1 ? digits.substr(0, 1) + "." + digits.substr(1) : digits;
    const std::string power = std::to_string(std::abs(exponent));
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (power.size() < 2 ? "0" : "") + power;
  }
  if (exponent < 0) return sign + "0." + std::string(-exponent - 1, '0') + digits;
  const auto whole = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= whole) return sign + digits + std::string(whole - digits.size(), '0') + ".0";
  return sign + digits.substr(0, whole) + "." + digits.substr(whole);
}

std::string quoted(std::string_view text, const char* prefix) {
  // Python prefers single quotes, and double quotes when the text has a ' and no ".
  const bool double_quotes = text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos;
  const char quote = double_quotes ? '"' : '\'';
  std::string out = prefix + std::string(1, quote);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f || (byte >= 0x80 && *prefix == 'b')) {
      constexpr char kDigits[] = "0123456789abcdef";
      out += std::string("\\x") + kDigits[byte >> 4] + kDigits[byte & 15];
    } else {
      out += c;
    }
  }
  return out + quote;
}

class Converter {
 public:
  explicit Converter(const Graph& graph) : graph_(graph) {}

  nlohmann::json json(Ref ref, int depth) {
    const Value& value = visit(ref, depth);
    switch (value.kind) {
      case Kind::None: return nullptr;
      case Kind::Bool: return value.integer != 0;
      case Kind::Int: return value.integer;
      case Kind::Float: return value.number;
      case Kind::String: return value.text;
      case Kind::Tuple:
      case Kind::List: {
        nlohmann::json list = nlohmann::json::array();
        for (const Ref item : value.items) list.push_back(json(item, depth + 1));
        return list;
      }
      case Kind::Dict: return json_object(value, depth);
      default: return repr(ref, depth);
    }
  }

  std::string repr(Ref ref, int depth) {
    const Value& value = visit(ref, depth);
    switch (value.kind) {
      case Kind::None: return "None";
      case Kind::Bool: return value.integer ? "True" : "False";
      case Kind::Int: return std::to_string(value.integer);
      case Kind::BigInt: return value.text;
      case Kind::Float: return float_repr(value.number);
      case Kind::String: return quoted(value.text, "");
      case Kind::Bytes: return quoted(value.text, "b");
      case Kind::Tuple: return sequence(value, "(", value.items.size() == 1 ? ",)" : ")", depth);
      case Kind::List: return sequence(value, "[", "]", depth);
      case Kind::Set: return value.items.empty() ? "set()" : sequence(value, "{", "}", depth);
      case Kind::Dict: return mapping(value, "{", ": ", "}", depth);
      case Kind::Object: return object_repr(value, depth);
      case Kind::Class: return "<class '" + value.text + "'>";
      case Kind::Storage: return value.text + "(" + std::to_string(value.integer) + " elements)";
      case Kind::Tensor: return tensor_repr(value.tensor);
    }
    return "?";
  }

 private:
  const Value& visit(Ref ref, int depth) {
    if (depth > kMaxDepth) throw sdk::DataError("a value is nested more than 64 levels deep (or refers to itself).");
    if (++nodes_ > kMaxNodes) throw sdk::DataError("a value is too large to convert (over a million parts).");
    return graph_[ref];
  }

  nlohmann::json json_object(const Value& dict, int depth) {
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
      object[json_key(dict.items[i], depth + 1)] = json(dict.items[i + 1], depth + 1);
    }
    return object;
  }

  // json.dumps turns int, float, bool and None keys into strings (and fails on others; repr here).
  std::string json_key(Ref ref, int depth) {
    const Value& key = visit(ref, depth);
    switch (key.kind) {
      case Kind::String: return key.text;
      case Kind::Bool: return key.integer ? "true" : "false";
      case Kind::None: return "null";
      case Kind::Float:
        if (std::isnan(key.number)) return "NaN";
        if (std::isinf(key.number)) return key.number > 0 ? "Infinity" : "-Infinity";
        return float_repr(key.number);
      default: return repr(ref, depth);
    }
  }

  std::string sequence(const Value& value, const char* open, const char* close, int depth) {
    std::string out = open;
    for (std::size_t i = 0; i < value.items.size(); ++i) {
      out += (i ? ", " : "") + repr(value.items[i], depth + 1);
    }
    return out + close;
  }

  std::string mapping(const Value& dict, const char* open, const char* separator, const char* close, int depth) {
    std::string out = open;
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
      const Value& key = graph_[dict.items[i]];
      // Namespace(name=value): attribute names are written bare.
      const bool bare = *separator == '=' && key.kind == Kind::String;
      const std::string key_text = bare ? key.text : repr(dict.items[i], depth + 1);
      out += (i ? ", " : "") + key_text + separator + repr(dict.items[i + 1], depth + 1);
    }
    return out + close;
  }

  std::string object_repr(const Value& object, int depth) {
    const std::string name = object.text.substr(object.text.rfind('.') + 1);
    if (object.state == kNoRef) return name + "()";
    return mapping(graph_[object.state], (name + "(").c_str(), "=", ")", depth + 1);
  }

  static std::string tensor_repr(const at::Tensor& tensor) {
    std::string shape;
    for (const std::int64_t size : tensor.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(size);
    return "tensor(shape=[" + shape + "], dtype=" + std::string(c10::toString(tensor.scalar_type())) + ")";
  }

  const Graph& graph_;
  std::size_t nodes_ = 0;
};

}  // namespace

nlohmann::json to_json(const Graph& graph, Ref value) { return Converter(graph).json(value, 0); }

std::string repr(const Graph& graph, Ref value) { return Converter(graph).repr(value, 0); }

}  // namespace rtseg::framework::pytorch
