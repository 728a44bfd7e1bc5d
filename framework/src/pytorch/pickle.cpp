#include "rtseg/framework/pytorch/pickle.h"

#include <ATen/ops/empty.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::pytorch {
namespace {

// The storage classes torch.save names in persistent ids (PyTorch 1.x and 2.x both write these
// legacy typed names, e.g. torch.FloatStorage, even for untyped storages).
struct StorageClass {
  const char* name;
  c10::ScalarType dtype;
};
constexpr StorageClass kStorageClasses[] = {
    {"torch.DoubleStorage", c10::ScalarType::Double}, {"torch.FloatStorage", c10::ScalarType::Float},
    {"torch.HalfStorage", c10::ScalarType::Half},     {"torch.BFloat16Storage", c10::ScalarType::BFloat16},
    {"torch.LongStorage", c10::ScalarType::Long},     {"torch.IntStorage", c10::ScalarType::Int},
    {"torch.ShortStorage", c10::ScalarType::Short},   {"torch.CharStorage", c10::ScalarType::Char},
    {"torch.ByteStorage", c10::ScalarType::Byte},     {"torch.BoolStorage", c10::ScalarType::Bool},
};

// The other accepted globals, each a name this reader turns into data itself. Deliberately not
// accepted (each would widen what a file can make this reader build, and no RF-DETR checkpoint
// needs them): numpy scalars and arrays, torch.device, torch.Size, collections.defaultdict,
// pathlib paths, builtins, sparse/quantized/subclass tensor rebuilds.
constexpr const char* kOrderedDict = "collections.OrderedDict";  // state dicts
constexpr const char* kNamespace = "argparse.Namespace";         // RF-DETR's 'args'
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";      // every tensor
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";  // an nn.Parameter
// An nn.Parameter with Python attributes (PyTorch >= 2.0); the attributes are dropped.
constexpr const char* kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";

// Limits that keep a hostile file from making this reader do unbounded work.
constexpr std::size_t kMaxBigIntBytes = 32;  // the legacy format's magic number takes 10
constexpr std::size_t kMaxNameBytes = 256;   // GLOBAL's module and name lines
constexpr std::size_t kMaxTensorDims = 64;

enum Op : std::uint8_t {
  kMark = '(', kStop = '.', kPop = '0', kPopMark = '1', kDup = '2', kBinBytes = 'B', kShortBinBytes = 'C',
  kBinFloat = 'G', kBinInt = 'J', kBinInt1 = 'K', kBinInt2 = 'M', kNone = 'N', kBinPersId = 'Q',
  kReduce = 'R', kBinString = 'T', kShortBinString = 'U', kBinUnicode = 'X', kEmptyList = ']',
  kAppend = 'a', kBuild = 'b', kGlobal = 'c', kDict = 'd', kAppends = 'e', kBinGet = 'h',
  kLongBinGet = 'j', kList = 'l', kBinPut = 'q', kLongBinPut = 'r', kSetItem = 's', kTuple = 't',
  kSetItems = 'u', kEmptyDict = '}', kEmptyTuple = ')',
  kProto = 0x80, kNewObj = 0x81, kTuple1 = 0x85, kTuple2 = 0x86, kTuple3 = 0x87, kNewTrue = 0x88,
  kNewFalse = 0x89, kLong1 = 0x8a, kLong4 = 0x8b, kShortBinUnicode = 0x8c, kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e, kEmptySet = 0x8f, kAddItems = 0x90, kFrozenSet = 0x91, kNewObjEx = 0x92,
  kStackGlobal = 0x93, kMemoize = 0x94, kFrame = 0x95,
};

// Names of the pickle opcodes this reader refuses, for the message.
const char* unsupported_opcode_name(std::uint8_t op) {
  switch (op) {
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'g': return "GET";
    case 'p': return "PUT";
    case 'P': return "PERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

std::string hex_byte(std::uint8_t byte) {
  constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[byte >> 4] + kDigits[byte & 15];
}

// Text from the file, made safe to print: control and non-ASCII bytes escaped, long text cut.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte >= 0x20 && byte < 0x7f ? std::string(1, c) : "\\x" + hex_byte(byte).substr(2);
  }
  return text.size() > 200 ? out + "..." : out;
}

// Decimal digits of a little-endian two's-complement integer (at most kMaxBigIntBytes long).
std::string decimal(std::string_view bytes) {
  std::vector<std::uint8_t> magnitude(bytes.begin(), bytes.end());
  const bool negative = !magnitude.empty() && (magnitude.back() & 0x80);
  if (negative) {  // two's complement: invert and add one
    unsigned carry = 1;
    for (auto& byte : magnitude) {
      const unsigned sum = static_cast<std::uint8_t>(~byte) + carry;
      byte = static_cast<std::uint8_t>(sum);
      carry = sum >> 8;
    }
  }
  std::string digits;
  while (std::any_of(magnitude.begin(), magnitude.end(), [](std::uint8_t b) { return b != 0; })) {
    unsigned remainder = 0;
    for (auto it = magnitude.rbegin(); it != magnitude.rend(); ++it) {
      const unsigned current = (remainder << 8) | *it;
      *it = static_cast<std::uint8_t>(current / 10);
      remainder = current % 10;
    }
    digits += static_cast<char>('0' + remainder);
  }
  if (digits.empty()) digits = "0";
  if (negative) digits += '-';
  return {digits.rbegin(), digits.rend()};
}

}  // namespace

// The pickle virtual machine, restricted to building data (see pickle.h).
class Unpickler {
 public:
  Unpickler(std::string_view bytes, const std::string& where, const PersistentLoader& load)
      : bytes_(bytes), where_(where), load_(load) {}

  Unpickled run() {
    while (true) {
      if (pos_ >= bytes_.size()) fail("the pickle ends without its STOP opcode (truncated file?).");
      op_pos_ = pos_;
      const std::uint8_t op = static_cast<std::uint8_t>(bytes_[pos_++]);
      if (op == kStop) break;
      if (!data_opcode(op) && !container_opcode(op) && !stack_opcode(op) && !object_opcode(op)) {
        refuse_opcode(op);
      }
    }
    if (stack_.size() != 1 || !marks_.empty()) {
      fail("STOP with " + std::to_string(stack_.size()) + " values on the stack instead of one.");
    }
    graph_.root_ = stack_.back();
    return {std::move(graph_), pos_};
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw sdk::DataError(where_ + ", byte " + std::to_string(op_pos_) + ": " + what);
  }

  [[noreturn]] void refuse_opcode(std::uint8_t op) const {
    if (const char* name = unsupported_opcode_name(op)) {
      fail(std::string("pickle opcode ") + name + " (" + hex_byte(op) +
           ") is not supported: this reader reads the binary pickles (protocols 2 to 5) torch.save writes.");
    }
    fail("byte " + hex_byte(op) + " is not a pickle opcode: the file is corrupt or not a PyTorch checkpoint.");
  }

  // ---- reading the stream
  std::string_view take(std::uint64_t size) {
    if (size > bytes_.size() - pos_) {
      fail("needs " + std::to_string(size) + " more bytes, the pickle has " + std::to_string(bytes_.size() - pos_) +
           " (truncated file?).");
    }
    const std::string_view result = bytes_.substr(pos_, size);
    pos_ += size;
    return result;
  }

  std::uint64_t little_endian(int size) {
    const std::string_view raw = take(size);
    std::uint64_t value = 0;
    for (int i = size - 1; i >= 0; --i) value = (value << 8) | static_cast<std::uint8_t>(raw[i]);
    return value;
  }

  std::string_view line() {
    const std::size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("the pickle ends inside GLOBAL's name (truncated file?).");
    if (end - pos_ > kMaxNameBytes) fail("GLOBAL's name is not a short line.");
    const std::string_view result = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return result;
  }

  // ---- values and the stack
  Ref add(Value value) {
    if (graph_.values_.size() >= kNoRef) fail("too many values.");
    graph_.values_.push_back(std::move(value));
    return static_cast<Ref>(graph_.values_.size() - 1);
  }
  Value& at(Ref ref) { return graph_.values_[ref]; }
  Ref add_kind(Kind kind) {
    Value value;
    value.kind = kind;
    return add(std::move(value));
  }
  Ref add_integer(Kind kind, std::int64_t integer) {
    Value value;
    value.kind = kind;
    value.integer = integer;
    return add(std::move(value));
  }
  Ref add_text(Kind kind, std::string_view text) {
    if (kind == Kind::String && !simdjson::validate_utf8(text.data(), text.size())) {
      fail("a string is not valid UTF-8.");
    }
    Value value;
    value.kind = kind;
    value.text = std::string(text);
    return add(std::move(value));
  }
  Ref add_items(Kind kind, std::vector<Ref> items) {
    Value value;
    value.kind = kind;
    value.items = std::move(items);
    return add(std::move(value));
  }

  void push(Ref ref) { stack_.push_back(ref); }
  std::size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  Ref top() const {
    if (stack_.size() <= base()) fail("the stack is empty (corrupt pickle).");
    return stack_.back();
  }
  Ref pop() {
    const Ref ref = top();
    stack_.pop_back();
    return ref;
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("an opcode needs a MARK and there is none (corrupt pickle).");
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Ref pop_kind(Kind kind, const char* what) {
    const Ref ref = pop();
    expect_kind(ref, kind, std::string(what) + " must be a ");
    return ref;
  }
  Ref top_kind(Kind kind, const char* what) {
    const Ref ref = top();
    expect_kind(ref, kind, std::string(what) + " needs a ");
    return ref;
  }
  void expect_kind(Ref ref, Kind kind, const std::string& what) {
    if (at(ref).kind != kind) fail(what + kind_name(kind) + ", not " + kind_name(at(ref).kind) + ".");
  }

  bool data_opcode(std::uint8_t op);
  bool container_opcode(std::uint8_t op);
  bool stack_opcode(std::uint8_t op);
  bool object_opcode(std::uint8_t op);

  Ref integer_of(std::string_view bytes);
  Ref float_of(std::string_view big_endian);
  void set_item(Ref dict, Ref key, Ref value);
  void build(Ref target, Ref state);
  Ref global(std::string_view module, std::string_view name);
  Ref reduce(Ref callable, Ref arguments);
  Ref new_object(Ref cls, Ref arguments);
  Ref rebuild_tensor(const std::vector<Ref>& arguments);
  std::vector<std::int64_t> dimensions(Ref tuple, const char* what);
  Ref persistent(Ref id);

  std::string_view bytes_;
  const std::string& where_;
  const PersistentLoader& load_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  Graph graph_;
  std::vector<Ref> stack_;
  std::vector<std::size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<std::uint64_t, Ref> memo_;
  // Per dict, where each hashable key sits in its items: a repeated key replaces the value, as
  // in Python, without a quadratic search.
  std::unordered_map<Ref, std::unordered_map<std::string, std::size_t>> dict_keys_;
};

bool Unpickler::data_opcode(std::uint8_t op) {
  switch (op) {
    case kNone: push(add_kind(Kind::None)); return true;
    case kNewTrue: push(add_integer(Kind::Bool, 1)); return true;
    case kNewFalse: push(add_integer(Kind::Bool, 0)); return true;
    case kBinInt: push(add_integer(Kind::Int, static_cast<std::int32_t>(little_endian(4)))); return true;
    case kBinInt1: push(add_integer(Kind::Int, static_cast<std::int64_t>(little_endian(1)))); return true;
    case kBinInt2: push(add_integer(Kind::Int, static_cast<std::int64_t>(little_endian(2)))); return true;
    case kLong1: push(integer_of(take(little_endian(1)))); return true;
    case kLong4: {
      const auto size = static_cast<std::int32_t>(little_endian(4));
      if (size < 0) fail("LONG4 has a negative length.");
      push(integer_of(take(static_cast<std::uint64_t>(size))));
      return true;
    }
    case kBinFloat: push(float_of(take(8))); return true;
    case kShortBinUnicode:
    case kShortBinString: push(add_text(Kind::String, take(little_endian(1)))); return true;
    case kBinUnicode: push(add_text(Kind::String, take(little_endian(4)))); return true;
    case kBinUnicode8: push(add_text(Kind::String, take(little_endian(8)))); return true;
    case kBinString: {  // a Python 2 str, which torch.load decodes as UTF-8
      const auto size = static_cast<std::int32_t>(little_endian(4));
      if (size < 0) fail("BINSTRING has a negative length.");
      push(add_text(Kind::String, take(static_cast<std::uint64_t>(size))));
      return true;
    }
    case kShortBinBytes: push(add_text(Kind::Bytes, take(little_endian(1)))); return true;
    case kBinBytes: push(add_text(Kind::Bytes, take(little_endian(4)))); return true;
    case kBinBytes8: push(add_text(Kind::Bytes, take(little_endian(8)))); return true;
    default: return false;
  }
}

Ref Unpickler::integer_of(std::string_view bytes) {
  if (bytes.size() > kMaxBigIntBytes) fail("an integer of " + std::to_string(bytes.size()) + " bytes is too large.");
  if (bytes.size() > 8) return add_text(Kind::BigInt, decimal(bytes));
  std::uint64_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  if (!bytes.empty() && bytes.size() < 8 && (static_cast<std::uint8_t>(bytes.back()) & 0x80)) {
    value |= ~std::uint64_t{0} << (8 * bytes.size());  // sign-extend
  }
  return add_integer(Kind::Int, static_cast<std::int64_t>(value));
}

Ref Unpickler::float_of(std::string_view big_endian) {
  std::uint64_t bits = 0;
  for (const char c : big_endian) bits = (bits << 8) | static_cast<std::uint8_t>(c);
  Value value;
  value.kind = Kind::Float;
  std::memcpy(&value.number, &bits, sizeof(bits));
  return add(std::move(value));
}

bool Unpickler::container_opcode(std::uint8_t op) {
  switch (op) {
    case kEmptyTuple: push(add_kind(Kind::Tuple)); return true;
    case kEmptyList: push(add_kind(Kind::List)); return true;
    case kEmptyDict: push(add_kind(Kind::Dict)); return true;
    case kEmptySet: push(add_kind(Kind::Set)); return true;
    case kTuple: push(add_items(Kind::Tuple, pop_mark())); return true;
    case kList: push(add_items(Kind::List, pop_mark())); return true;
    case kFrozenSet: push(add_items(Kind::Set, pop_mark())); return true;
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      std::vector<Ref> items(op - kTuple1 + 1);
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      push(add_items(Kind::Tuple, std::move(items)));
      return true;
    }
    case kAppend: {
      const Ref item = pop();
      at(top_kind(Kind::List, "APPEND")).items.push_back(item);
      return true;
    }
    case kAppends:
    case kAddItems: {
      const std::vector<Ref> items = pop_mark();
      auto& target = at(top_kind(op == kAppends ? Kind::List : Kind::Set, op == kAppends ? "APPENDS" : "ADDITEMS"));
      target.items.insert(target.items.end(), items.begin(), items.end());
      return true;
    }
    case kDict:
    case kSetItems: {
      const std::vector<Ref> items = pop_mark();
      if (items.size() % 2 != 0) fail("SETITEMS/DICT has an odd number of keys and values.");
      const Ref dict = op == kDict ? add_kind(Kind::Dict) : top_kind(Kind::Dict, "SETITEMS");
      for (std::size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
      if (op == kDict) push(dict);
      return true;
    }
    case kSetItem: {
      const Ref value = pop();
      const Ref key = pop();
      set_item(top_kind(Kind::Dict, "SETITEM"), key, value);
      return true;
    }
    default: return false;
  }
}

void Unpickler::set_item(Ref dict, Ref key, Ref value) {
  // Hashable keys that compare equal in Python share a slot (1 == 1.0 == True is rare enough in
  // checkpoints to keep apart); other keys (tuples) are appended.
  const Value& k = at(key);
  std::string slot;
  switch (k.kind) {
    case Kind::String: slot = "s" + k.text; break;
    case Kind::Bytes: slot = "b" + k.text; break;
    case Kind::Int:
    case Kind::Bool: slot = "i" + std::to_string(k.integer); break;
    case Kind::None: slot = "n"; break;
    default: break;
  }
  auto& items = at(dict).items;
  if (!slot.empty()) {
    const auto [found, inserted] = dict_keys_[dict].emplace(std::move(slot), items.size());
    if (!inserted) {
      items[found->second + 1] = value;
      return;
    }
  }
  items.push_back(key);
  items.push_back(value);
}

bool Unpickler::stack_opcode(std::uint8_t op) {
  switch (op) {
    case kMark: marks_.push_back(stack_.size()); return true;
    case kPop:  // Python pops the last MARK instead when the stack above it is empty
      if (stack_.size() > base()) {
        stack_.pop_back();
      } else {
        pop_mark();
      }
      return true;
    case kPopMark: pop_mark(); return true;
    case kDup: push(top()); return true;
    case kBinGet:
    case kLongBinGet: {
      const std::uint64_t key = little_endian(op == kBinGet ? 1 : 4);
      const auto found = memo_.find(key);
      if (found == memo_.end()) fail("memo entry " + std::to_string(key) + " was never stored (corrupt pickle).");
      push(found->second);
      return true;
    }
    case kBinPut: memo_[little_endian(1)] = top(); return true;
    case kLongBinPut: memo_[little_endian(4)] = top(); return true;
    case kMemoize: memo_[memo_.size()] = top(); return true;
    case kFrame: little_endian(8); return true;  // a framing hint; opcodes follow as usual
    case kProto: {
      const std::uint64_t protocol = little_endian(1);
      if (protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " is unknown (at most 5).");
      return true;
    }
    default: return false;
  }
}

bool Unpickler::object_opcode(std::uint8_t op) {
  switch (op) {
    case kGlobal: {
      const std::string_view module = line();
      push(global(module, line()));
      return true;
    }
    case kStackGlobal: {
      const Ref name = pop_kind(Kind::String, "STACK_GLOBAL's name");
      const Ref module = pop_kind(Kind::String, "STACK_GLOBAL's module");
      push(global(at(module).text, at(name).text));
      return true;
    }
    case kReduce: {
      const Ref arguments = pop_kind(Kind::Tuple, "REDUCE's arguments");
      push(reduce(pop(), arguments));
      return true;
    }
    case kNewObj: {
      const Ref arguments = pop_kind(Kind::Tuple, "NEWOBJ's arguments");
      push(new_object(pop(), arguments));
      return true;
    }
    case kNewObjEx: {
      const Ref keywords = pop_kind(Kind::Dict, "NEWOBJ_EX's keyword arguments");
      if (!at(keywords).items.empty()) fail("NEWOBJ_EX with keyword arguments is not supported.");
      const Ref arguments = pop_kind(Kind::Tuple, "NEWOBJ_EX's arguments");
      push(new_object(pop(), arguments));
      return true;
    }
    case kBuild: {
      const Ref state = pop();
      build(top(), state);
      return true;
    }
    case kBinPersId: push(persistent(pop())); return true;
    default: return false;
  }
}

Ref Unpickler::global(std::string_view module, std::string_view name) {
  const std::string dotted = std::string(module) + "." + std::string(name);
  const auto& allowed = allowed_globals();
  if (std::find(allowed.begin(), allowed.end(), dotted) == allowed.end()) {
    fail("refused the global '" + printable(dotted) +
         "': a checkpoint needs only tensors, plain data and a few known classes "
         "(collections.OrderedDict, argparse.Namespace, torch._utils._rebuild_tensor_v2, "
         "torch._utils._rebuild_parameter, torch.*Storage). Any other name could make Python run code, so "
         "rtseg reads no file that names one (it never runs anything from a checkpoint).");
  }
  Value value;
  value.kind = Kind::Class;
  value.text = dotted;
  return add(std::move(value));
}

Ref Unpickler::reduce(Ref callable, Ref arguments) {
  if (at(callable).kind != Kind::Class) fail(std::string("REDUCE calls a ") + kind_name(at(callable).kind) + ".");
  const std::string name = at(callable).text;
  const std::vector<Ref> args = at(arguments).items;
  if (name == kRebuildTensor) return rebuild_tensor(args);
  if (name == kRebuildParameter || name == kRebuildParameterWithState) {
    // (data, requires_grad, backward_hooks[, state]): the tensor is the parameter's data.
    if (args.size() != (name == kRebuildParameter ? 3u : 4u) || at(args[0]).kind != Kind::Tensor) {
      fail(name + " expects (tensor, requires_grad, hooks" + (name == kRebuildParameter ? ")." : ", state)."));
    }
    return args[0];
  }
  if (name == kOrderedDict || name == kNamespace) {
    if (args.empty()) return new_object(callable, arguments);
    if (name == kOrderedDict && args.size() == 1 && at(args[0]).kind == Kind::List) {  // OrderedDict([(k, v), ...])
      const Ref dict = add_kind(Kind::Dict);
      for (const Ref pair : at(args[0]).items) {
        if (at(pair).kind != Kind::Tuple || at(pair).items.size() != 2) {
          fail("OrderedDict([...]) needs (key, value) pairs.");
        }
        set_item(dict, at(pair).items[0], at(pair).items[1]);
      }
      return dict;
    }
    fail(name + "(...) with arguments is not supported.");
  }
  fail("'" + name + "' cannot be called; it may only appear as a storage type.");
}

Ref Unpickler::new_object(Ref cls, Ref arguments) {
  if (at(cls).kind != Kind::Class) fail(std::string("NEWOBJ's class is a ") + kind_name(at(cls).kind) + ".");
  const std::string& name = at(cls).text;
  if (!at(arguments).items.empty()) fail(name + " with constructor arguments is not supported.");
  if (name == kOrderedDict) return add_kind(Kind::Dict);
  if (name == kNamespace) {
    Value value;
    value.kind = Kind::Object;
    value.text = name;
    return add(std::move(value));
  }
  fail("'" + name + "' is not a class this reader creates.");
}

void Unpickler::build(Ref target, Ref state) {
  // Python's default BUILD: the state dict's entries become the object's attributes.
  const Kind kind = at(target).kind;
  if (kind != Kind::Object && kind != Kind::Dict) {
    fail(std::string("BUILD on a ") + kind_name(kind) + " is not supported.");
  }
  expect_kind(state, Kind::Dict, "BUILD's state must be a ");
  if (at(target).state == kNoRef) {
    at(target).state = add_kind(Kind::Dict);
  }
  const Ref attributes = at(target).state;
  const std::vector<Ref> items = at(state).items;
  for (std::size_t i = 0; i < items.size(); i += 2) set_item(attributes, items[i], items[i + 1]);
}

std::vector<std::int64_t> Unpickler::dimensions(Ref tuple, const char* what) {
  if (at(tuple).kind != Kind::Tuple) fail(std::string("a tensor's ") + what + " must be a tuple.");
  if (at(tuple).items.size() > kMaxTensorDims) fail(std::string("a tensor's ") + what + " has too many dimensions.");
  std::vector<std::int64_t> result;
  for (const Ref item : at(tuple).items) {
    if (at(item).kind != Kind::Int || at(item).integer < 0) {
      fail(std::string("a tensor's ") + what + " holds a value that is not a non-negative integer.");
    }
    result.push_back(at(item).integer);
  }
  return result;
}

Ref Unpickler::rebuild_tensor(const std::vector<Ref>& args) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.size() < 6 || args.size() > 7 || at(args[0]).kind != Kind::Storage || at(args[1]).kind != Kind::Int ||
      at(args[1]).integer < 0) {
    fail("_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks[, metadata]).");
  }
  const Value& storage = at(args[0]);
  const std::int64_t offset = at(args[1]).integer;
  const std::vector<std::int64_t> sizes = dimensions(args[2], "size");
  const std::vector<std::int64_t> strides = dimensions(args[3], "stride");
  if (sizes.size() != strides.size()) fail("a tensor's size and stride have different lengths.");
  // The last element it reaches must lie inside its storage (an empty tensor reaches none).
  const auto item = static_cast<std::int64_t>(c10::elementSize(storage.dtype));
  const std::int64_t storage_elements = static_cast<std::int64_t>(storage.storage.nbytes()) / item;
  std::int64_t last = offset;
  bool empty = false;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    std::int64_t step = 0;
    if (sizes[d] == 0) empty = true;
    if (sizes[d] > 0 &&
        (__builtin_mul_overflow(sizes[d] - 1, strides[d], &step) || __builtin_add_overflow(last, step, &last))) {
      fail("a tensor's size and stride overflow.");
    }
  }
  if (!empty && last >= storage_elements) {
    fail("a tensor reaches element " + std::to_string(last) + " of a storage of " + std::to_string(storage_elements) +
         ".");
  }
  at::Tensor tensor = at::empty({0}, at::TensorOptions().dtype(storage.dtype));
  tensor.set_(storage.storage, offset, sizes, strides);
  Value value;
  value.kind = Kind::Tensor;
  value.tensor = std::move(tensor);
  return add(std::move(value));
}

Ref Unpickler::persistent(Ref id) {
  if (!load_) fail("a persistent id (tensor storage) in a pickle that has no storages.");
  Value value = load_(graph_, at(id));
  if (value.kind != Kind::Storage) fail("a persistent id did not name a storage.");
  return add(std::move(value));
}

Ref Graph::lookup(const Value& dict, std::string_view key) const {
  const Value* table = &dict;
  if (dict.kind == Kind::Object) {
    if (dict.state == kNoRef) return kNoRef;
    table = &values_[dict.state];
  }
  if (table->kind != Kind::Dict) return kNoRef;
  for (std::size_t i = 0; i + 1 < table->items.size(); i += 2) {
    const Value& k = values_[table->items[i]];
    if (k.kind == Kind::String && k.text == key) return table->items[i + 1];
  }
  return kNoRef;
}

Unpickled unpickle(std::string_view bytes, const std::string& where, const PersistentLoader& load) {
  return Unpickler(bytes, where, load).run();
}

const std::vector<std::string>& allowed_globals() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result{kOrderedDict, kNamespace, kRebuildTensor, kRebuildParameter,
                                    kRebuildParameterWithState};
    for (const StorageClass& storage : kStorageClasses) result.emplace_back(storage.name);
    return result;
  }();
  return names;
}

std::optional<c10::ScalarType> storage_dtype(std::string_view class_name) {
  for (const StorageClass& storage : kStorageClasses) {
    if (class_name == storage.name) return storage.dtype;
  }
  return std::nullopt;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int:
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Set: return "set";
    case Kind::Dict: return "dict";
    case Kind::Object: return "object";
    case Kind::Class: return "class";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

}  // namespace rtseg::framework::pytorch
