// The restricted unpickler and the torch.save container readers, on hand-made bytes.
#include "rtseg/framework/pytorch/pickle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../test_support.h"
#include "rtseg/framework/pytorch/torch_file.h"
#include "rtseg/sdk/errors.h"
#include "torch_file_writer.h"

namespace rtseg::framework::pytorch {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using rtseg::testing::legacy_checkpoint;
using rtseg::testing::PickleWriter;
using rtseg::testing::zip_checkpoint;
using Json = nlohmann::json;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no sdk::DataError";
  return "";
}

Json json_of(const std::string& pickle) {
  const Graph graph = unpickle(pickle, "test.pkl").graph;
  return to_json(graph, graph.root());
}

std::string repr_of(const std::string& pickle) {
  const Graph graph = unpickle(pickle, "test.pkl").graph;
  return repr(graph, graph.root());
}

TEST(Unpickle, RebuildsPlainData) {
  // {'a': [1, -2, 300, 70000, -70000], 'b': (1.5, None, True, 'é'), 'c': b'\x00'} with the memo
  // sharing the list under 'd'.
  PickleWriter pickle;
  pickle.op('}').op('(').text("a").op(']').op('q').raw("\x01").op('(').op('K').raw("\x01").integer(-2);
  pickle.op('M').raw("\x2c\x01").integer(70000).integer(-70000).op('e');
  pickle.text("b").op('(').op('G').raw("\x3f\xf8\0\0\0\0\0\0").op('N').op('\x88').text("\xc3\xa9").op('t');
  pickle.text("c").op('C').raw("\x01").raw(std::string(1, '\0')).text("d").op('h').raw("\x01").op('u');
  EXPECT_EQ(json_of(pickle.bytes()),
            Json::parse(R"({"a": [1, -2, 300, 70000, -70000], "b": [1.5, null, true, "é"], "c": "b'\\x00'",
                            "d": [1, -2, 300, 70000, -70000]})"));
  EXPECT_EQ(repr_of(pickle.bytes()),
            "{'a': [1, -2, 300, 70000, -70000], 'b': (1.5, None, True, 'é'), 'c': b'\\x00', "
            "'d': [1, -2, 300, 70000, -70000]}");
}

TEST(Unpickle, ReadsIntegersOfEveryWidth) {
  // LONG1 with 0, 1, 8 and 10 bytes (the legacy magic number), negative ones sign-extended.
  EXPECT_EQ(json_of(PickleWriter().op('\x8a').raw("\0").bytes()), Json(0));
  EXPECT_EQ(json_of(PickleWriter().op('\x8a').raw("\x01\xff").bytes()), Json(-1));
  EXPECT_EQ(json_of(PickleWriter().op('\x8a').raw("\x02\x00\x80").bytes()), Json(-32768));
  EXPECT_EQ(json_of(PickleWriter().op('\x8a').raw("\x08\xff\xff\xff\xff\xff\xff\xff\x7f").bytes()),
            Json(std::int64_t{9223372036854775807}));
  EXPECT_EQ(repr_of(PickleWriter().op('\x8a').op('\x0a').raw("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19").bytes()),
            "119547037146038801333356");
  EXPECT_EQ(repr_of(PickleWriter().op('\x8a').raw("\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff").bytes()),
            "-18446744073709551616");
}

TEST(Unpickle, DictKeysRepeatAsInPython) {
  // A key set twice keeps its first position and the last value; json.dumps' key spellings.
  PickleWriter pickle;
  pickle.op('}').op('(').text("x").integer(1).integer(7).integer(2).text("x").integer(3).op('N').integer(4);
  pickle.op('\x88').integer(5).op('G').raw("\x3f\xe0\x00\x00\x00\x00\x00\x00").integer(6).op('u');
  EXPECT_EQ(json_of(pickle.bytes()).dump(), R"({"0.5":6,"7":2,"null":4,"true":5,"x":3})");
  EXPECT_EQ(repr_of(pickle.bytes()), "{'x': 3, 7: 2, None: 4, True: 5, 0.5: 6}");
}

TEST(Unpickle, NamespaceAndOrderedDictAreData) {
  // argparse.Namespace via NEWOBJ + BUILD, OrderedDict via REDUCE, with a BUILD of attributes.
  PickleWriter pickle;
  pickle.op('}').op('(').text("args").global("argparse", "Namespace").op(')').op('\x81');
  pickle.op('}').op('(').text("lr").op('G').raw("\x3f\x1a\x36\xe2\xeb\x1c\x43\x2d").text("t").integer(1).integer(2);
  pickle.op('\x86').op('u').op('b');
  pickle.text("state").global("collections", "OrderedDict").op(')').op('R').text("k").op(']').op('s');
  pickle.op('}').text("_metadata").op('}').op('s').op('b').op('u');
  const Graph graph = unpickle(pickle.bytes(), "test.pkl").graph;
  EXPECT_EQ(to_json(graph, graph.root()), Json::parse(R"js({"args": "Namespace(lr=0.0001, t=(1, 2))",
                                                            "state": {"k": []}})js"));
  const Value* args = graph.find(graph[graph.root()], "args");
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->kind, Kind::Object);
  EXPECT_EQ(to_json(graph, args->state), Json::parse(R"({"lr": 0.0001, "t": [1, 2]})"));
  const Value* state = graph.find(graph[graph.root()], "state");
  ASSERT_NE(state, nullptr);
  EXPECT_NE(graph.find(*state, "k"), nullptr);
  EXPECT_EQ(graph.find(*state, "_metadata"), nullptr) << "BUILD sets attributes, not entries";
}

TEST(Unpickle, PythonFloatRepr) {
  const auto float_repr = [](const char* big_endian) {
    return repr_of(PickleWriter().op('G').raw(std::string(big_endian, 8)).bytes());
  };
  EXPECT_EQ(float_repr("\x3f\xf0\x00\x00\x00\x00\x00\x00"), "1.0");
  EXPECT_EQ(float_repr("\x3e\xe4\xf8\xb5\x88\xe3\x68\xf1"), "1e-05");
  EXPECT_EQ(float_repr("\x44\x15\xaf\x1d\x78\xb5\x8c\x40"), "1e+20");
  EXPECT_EQ(float_repr("\x7f\xf0\x00\x00\x00\x00\x00\x00"), "inf");
  EXPECT_EQ(float_repr("\x3f\x1a\x36\xe2\xeb\x1c\x43\x2d"), "0.0001");
  EXPECT_EQ(float_repr("\x40\x5e\xc0\x00\x00\x00\x00\x00"), "123.0");
  EXPECT_EQ(float_repr("\x43\x41\xc3\x79\x37\xe0\x80\x00"), "1e+16");
  EXPECT_EQ(float_repr("\x43\x31\xc3\x79\x37\xe0\x80\x00"), "5000000000000000.0");
  EXPECT_EQ(float_repr("\xbf\xb9\x99\x99\x99\x99\x99\x9a"), "-0.1");
  EXPECT_EQ(float_repr("\x80\x00\x00\x00\x00\x00\x00\x00"), "-0.0");
}

TEST(Unpickle, RefusesEveryOtherGlobalByName) {
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"os", "system"}, {"posix", "system"}, {"builtins", "eval"}, {"torch", "load"}, {"numpy", "dtype"},
           {"collections", "defaultdict"}, {"torch._utils", "_rebuild_device_tensor_from_numpy"}}) {
    const std::string pickle = PickleWriter().global(module, name).text("echo hi").op('\x85').op('R').bytes();
    EXPECT_THAT(error_of([&] { unpickle(pickle, "evil.pth"); }),
                AllOf(HasSubstr("evil.pth"), HasSubstr("'" + module + "." + name + "'"), HasSubstr("refused")));
  }
  // STACK_GLOBAL (protocol 4) is checked the same way.
  const std::string stacked = PickleWriter(4).text("builtins").text("eval").op('\x93').bytes();
  EXPECT_THAT(error_of([&] { unpickle(stacked, "evil.pth"); }), HasSubstr("'builtins.eval'"));
}

TEST(Unpickle, AcceptedGlobalsCannotBeMisused) {
  // A storage class may not be called, Namespace takes no arguments, REDUCE needs a global.
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().global("torch", "FloatStorage").op(')').op('R').bytes(), "f"); }),
              HasSubstr("cannot be called"));
  EXPECT_THAT(error_of([] {
                unpickle(PickleWriter().global("argparse", "Namespace").integer(1).op('\x85').op('R').bytes(), "f");
              }),
              HasSubstr("with arguments is not supported"));
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().op('N').op(')').op('R').bytes(), "f"); }),
              HasSubstr("REDUCE calls a None"));
}

TEST(Unpickle, UnsupportedOpcodesAreNamed) {
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().raw("ios\nsystem\n").bytes(), "f.pth"); }),
              AllOf(HasSubstr("f.pth"), HasSubstr("INST")));
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().raw("I1\n").bytes(), "f.pth"); }), HasSubstr("opcode INT (0x49)"));
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().raw("\x82\x01").bytes(), "f.pth"); }), HasSubstr("EXT1"));
  EXPECT_THAT(error_of([] { unpickle(PickleWriter().raw("\xff").bytes(), "f.pth"); }),
              HasSubstr("byte 0xff is not a pickle opcode"));
  EXPECT_THAT(error_of([] { unpickle(std::string("\x80\x06N.", 4), "f.pth"); }), HasSubstr("protocol 6"));
}

TEST(Unpickle, MalformedPicklesAreErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\x80\x02", 2), "without its STOP"},
      {PickleWriter().op('a').bytes(), "stack is empty"},
      {PickleWriter().op('N').op('N').bytes(), "2 values on the stack"},
      {PickleWriter().op('h').raw("\x05").bytes(), "memo entry 5 was never stored"},
      {PickleWriter().op('t').bytes(), "needs a MARK"},
      {PickleWriter().op('X').raw("\xff\xff\xff\x7f").bytes(), "more bytes"},
      {PickleWriter().op('N').op('N').op('N').op('s').bytes(), "SETITEM needs a dict, not None"},
      {PickleWriter().text("\xc3").bytes(), "not valid UTF-8"},
      {PickleWriter().op('\x8b').raw("\x00\x01\x00\x00").raw(std::string(256, '\x01')).bytes(), "too large"},
      {PickleWriter().storage("FloatStorage", "0", 1).bytes(), "has no storages"},
  };
  for (const auto& [pickle, message] : cases) {
    EXPECT_THAT(error_of([&] { unpickle(pickle, "bad.pkl"); }), AllOf(HasSubstr("bad.pkl, byte "), HasSubstr(message)));
  }
}

TEST(Unpickle, CircularValuesStopConversion) {
  // l = []; l.append(l): json.dumps says "Circular reference detected".
  const std::string pickle = PickleWriter().op(']').op('q').raw("\0").op('h').raw("\0").op('a').bytes();
  const Graph graph = unpickle(pickle, "c.pkl").graph;
  EXPECT_THAT(error_of([&] { to_json(graph, graph.root()); }), HasSubstr("refers to itself"));
  EXPECT_THAT(error_of([&] { repr(graph, graph.root()); }), HasSubstr("refers to itself"));
  // A list holding the previous one twice, 40 times over: 2^40 parts once unfolded.
  PickleWriter doubling;
  doubling.op(']');
  for (int i = 0; i < 40; ++i) doubling.op('2').op('\x86');
  const Graph large = unpickle(doubling.bytes(), "c.pkl").graph;
  EXPECT_THAT(error_of([&] { to_json(large, large.root()); }), HasSubstr("too large"));
}

// {'model': OrderedDict(w=tensor of 3 floats at offset 1 of a 4-float storage, v=the same storage)}
std::string model_pickle(bool legacy) {
  PickleWriter pickle;
  pickle.op('}').op('(').text("model").global("collections", "OrderedDict").op(')').op('R').op('(');
  pickle.text("w").tensor("FloatStorage", "0", 4, 1, 3, legacy);
  pickle.text("h").tensor("HalfStorage", "1", 2, 0, 2, legacy);
  return pickle.op('u').op('u').bytes();
}

const std::string kFloats("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40", 16);  // 1 2 3 4
const std::string kHalves("\x00\x3c\x00\xc0", 4);                                                      // 1 -2

void expect_model(const TorchFile& file) {
  const Graph& graph = file.graph;
  const Value* model = graph.find(graph[graph.root()], "model");
  ASSERT_NE(model, nullptr);
  const Value* w = graph.find(*model, "w");
  const Value* h = graph.find(*model, "h");
  ASSERT_TRUE(w && h);
  ASSERT_EQ(w->kind, Kind::Tensor);
  EXPECT_EQ(w->tensor.scalar_type(), c10::ScalarType::Float);
  EXPECT_TRUE(w->tensor.equal(at::tensor({2.0f, 3.0f, 4.0f})));
  EXPECT_EQ(h->tensor.scalar_type(), c10::ScalarType::Half);
  EXPECT_TRUE(h->tensor.to(c10::ScalarType::Float).equal(at::tensor({1.0f, -2.0f})));
}

TEST(TorchFile, ReadsZipAndLegacyFormats) {
  const std::vector<rtseg::testing::StorageBytes> storages{{"0", kFloats}, {"1", kHalves, 2}};
  const TorchFile zip = read_torch_bytes(zip_checkpoint(model_pickle(false), storages), "z.pth");
  EXPECT_EQ(zip.format, FileFormat::Zip);
  expect_model(zip);
  const TorchFile legacy = read_torch_bytes(legacy_checkpoint(model_pickle(true), storages), "l.pth");
  EXPECT_EQ(legacy.format, FileFormat::Legacy);
  expect_model(legacy);
}

TEST(TorchFile, RefusedGlobalsNameTheFileInBothFormats) {
  // What a malicious .pth does: REDUCE os.system('touch MARKER'). The reader refuses it by name
  // and runs nothing.
  rtseg::testing::TempDir dir;
  const auto marker = dir / "ran";
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"os", "system"}, {"posix", "system"}, {"builtins", "eval"}}) {
    PickleWriter pickle;
    pickle.op('}').op('(').text("model").global(module, name).text("touch " + marker.string()).op('\x85').op('R');
    const std::string bytes = pickle.op('u').bytes();
    for (const auto& [format, file] : {std::pair{"zip", zip_checkpoint(bytes)}, {"legacy", legacy_checkpoint(bytes)}}) {
      const auto path = dir.write(std::string(format) + ".pth", file);
      EXPECT_THAT(error_of([&] { read_torch_file(path); }),
                  AllOf(HasSubstr(path.string()), HasSubstr("'" + module + "." + name + "'")))
          << format;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(TorchFile, ContainerErrorsAreClear) {
  const std::string pickle = model_pickle(false);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a PyTorch checkpoint"},
      {"hello world", "not a PyTorch checkpoint"},
      {zip_checkpoint(pickle, {{"0", kFloats}}), "storage '1' has no entry archive/data/1"},
      {zip_checkpoint(pickle, {{"0", kFloats.substr(4)}, {"1", kHalves, 2}}),
       "storage '0' holds 12 bytes, its tensors say 16"},
      {rtseg::testing::stored_zip({{"a/b.pkl", pickle}}), "no <name>/data.pkl"},
      {zip_checkpoint(pickle, {}, "x") + "junk", "no end-of-directory record"},
      {legacy_checkpoint(pickle), "is not ('storage', type, key, location, numel, None)"},
      {legacy_checkpoint(model_pickle(true), {{"0", kFloats}}), "storage '1' has no data"},
      {legacy_checkpoint(model_pickle(true), {{"0", kFloats}, {"1", kHalves}}),
       "has 1 elements in the file, not the 2"},
      {legacy_checkpoint(model_pickle(true), {{"0", kFloats}, {"1", kHalves, 2}}).substr(0, 300), "truncated"},
  };
  for (const auto& [bytes, message] : cases) {
    EXPECT_THAT(error_of([&] { read_torch_bytes(bytes, "case.pth"); }),
                AllOf(HasSubstr("case.pth"), HasSubstr(message)));
  }
}

TEST(TorchFile, TensorsMustLieInsideTheirStorage) {
  PickleWriter pickle;
  pickle.op('}').op('(').text("w").tensor("FloatStorage", "0", 4, 2, 3).op('u');
  EXPECT_THAT(error_of([&] { read_torch_bytes(zip_checkpoint(pickle.bytes(), {{"0", kFloats}}), "t.pth"); }),
              AllOf(HasSubstr("t.pth"), HasSubstr("reaches element 4 of a storage of 4")));
}

TEST(TorchFile, CorruptZipEntriesFailTheirChecksum) {
  std::string bytes = zip_checkpoint(model_pickle(false), {{"0", kFloats}, {"1", kHalves, 2}});
  const std::size_t at = bytes.find(kFloats);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] ^= 1;
  EXPECT_THAT(error_of([&] { read_torch_bytes(bytes, "c.pth"); }),
              AllOf(HasSubstr("c.pth"), HasSubstr("entry 'archive/data/0' fails its CRC-32 check")));
}

}  // namespace
}  // namespace rtseg::framework::pytorch
