// RF-DETR .pth files read in C++: the fixtures RF-DETR 1.4.1's own code wrote
// (../shared/fixtures/rfdetr/checkpoints, see its README), files PyTorch writes here at test time
// (python3 with torch), and corrupt or truncated files.
#include "rtseg/framework/rfdetr/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "../test_support.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"
#include "torch_file_writer.h"

namespace rtseg::framework::rfdetr {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const fs::path kCheckpoints = fs::path(RTSEG_RFDETR_FIXTURES) / "checkpoints";

#define SKIP_WITHOUT_FIXTURES()                                                                    \
  if (!fs::exists(kCheckpoints / "pretrained.pth"))                                                \
  GTEST_SKIP() << "RF-DETR checkpoint fixtures not found at " << kCheckpoints                      \
               << " (RTSEG_RFDETR_FIXTURES: ../shared/fixtures/rfdetr beside the repository)"

// Bit for bit: the same names, and per tensor the same dtype, shape and bytes.
void expect_same_tensors(const NamedTensors& actual, const fs::path& expected_file) {
  const auto expected = sdk::SafetensorsFile::open(expected_file);
  std::vector<std::string> names;
  for (const auto& entry : actual) names.push_back(entry.first);
  ASSERT_EQ(names, expected.names()) << expected_file;
  for (const auto& [name, tensor] : actual) {
    const at::Tensor want = expected.get(name);
    ASSERT_EQ(tensor.scalar_type(), want.scalar_type()) << name;
    ASSERT_EQ(tensor.sizes(), want.sizes()) << name;
    const at::Tensor got = tensor.contiguous();
    EXPECT_EQ(std::memcmp(got.data_ptr(), want.contiguous().data_ptr(), got.nbytes()), 0) << name << " differs";
  }
}

Json args_json() { return Json::parse(std::ifstream(kCheckpoints / "args.json")); }

TEST(RfdetrCheckpoint, PublishedWeightsEqualTheirSafetensorsBitForBit) {
  SKIP_WITHOUT_FIXTURES();
  for (const char* file : {"pretrained.pth", "pretrained_legacy.pth"}) {
    SCOPED_TRACE(file);
    const Checkpoint checkpoint = read_checkpoint(kCheckpoints / file);
    EXPECT_EQ(checkpoint.path, kCheckpoints / file);
    EXPECT_EQ(checkpoint.model.size(), 344u);
    expect_same_tensors(checkpoint.model, kCheckpoints / "model.safetensors");
    EXPECT_TRUE(checkpoint.ema_model.empty());
    EXPECT_FALSE(checkpoint.epoch.has_value());
    // Equal as JSON text: the same keys, values and types (1.0 stays a float, 5 an integer).
    EXPECT_EQ(checkpoint.args.dump(), args_json().dump());
  }
}

TEST(RfdetrCheckpoint, TrainingCheckpointHasModelEmaArgsAndEpoch) {
  SKIP_WITHOUT_FIXTURES();
  const Checkpoint checkpoint = read_checkpoint(kCheckpoints / "training.pth");
  expect_same_tensors(checkpoint.model, kCheckpoints / "training_model.safetensors");
  expect_same_tensors(checkpoint.ema_model, kCheckpoints / "ema_model.safetensors");
  EXPECT_EQ(checkpoint.epoch, 7);
  EXPECT_EQ(checkpoint.args.dump(), args_json().dump());
  EXPECT_EQ(checkpoint.args["class_names"].size(), 90u);
}

TEST(RfdetrCheckpoint, ZipTensorsViewTheFileWithoutCopies) {
  SKIP_WITHOUT_FIXTURES();
  // Every tensor of the zip format points into one mapping of the file: its storage is not an
  // allocation of its own (legacy-format storages are copies).
  const Checkpoint checkpoint = read_checkpoint(kCheckpoints / "pretrained.pth");
  const auto size = fs::file_size(kCheckpoints / "pretrained.pth");
  const auto& first = checkpoint.model.begin()->second;
  std::uintptr_t low = UINTPTR_MAX, high = 0;
  for (const auto& [name, tensor] : checkpoint.model) {
    const auto begin = reinterpret_cast<std::uintptr_t>(tensor.storage().data());
    low = std::min(low, begin);
    high = std::max(high, begin + tensor.storage().nbytes());
    EXPECT_EQ(begin % 64, 0u) << name << ": torch.save aligns storages to 64 bytes";
  }
  EXPECT_LE(high - low, size) << "storages span more than the file: they were copied";
  EXPECT_GT(reinterpret_cast<std::uintptr_t>(first.storage().data()), 0u);
}

// --- corrupt and truncated files

std::string file_bytes(const fs::path& file) { return rtseg::testing::read_text(file); }

// Reading `bytes` gives either sdk::DataError naming the file or, when the change is one no
// reader can see (zip padding, timestamps), exactly the original tensors.
void expect_error_or_same(const std::string& bytes, const NamedTensors& original, bool checksummed,
                          const std::string& what) {
  try {
    const Checkpoint checkpoint = checkpoint_from(pytorch::read_torch_bytes(bytes, "corrupt.pth"), "corrupt.pth");
    if (!checksummed) return;  // the legacy format has no checksums: changed values can pass
    ASSERT_EQ(checkpoint.model.size(), original.size()) << what;
    for (const auto& [name, tensor] : original) {
      const auto found = checkpoint.model.find(name);
      ASSERT_NE(found, checkpoint.model.end()) << what << ": " << name;
      EXPECT_TRUE(found->second.equal(tensor)) << what << ": " << name << " changed silently";
    }
  } catch (const sdk::DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("corrupt.pth")) << what;
  }
}

TEST(RfdetrCheckpoint, TruncatedFilesAreClearErrors) {
  SKIP_WITHOUT_FIXTURES();
  for (const char* file : {"pretrained.pth", "pretrained_legacy.pth"}) {
    const std::string bytes = file_bytes(kCheckpoints / file);
    std::vector<std::size_t> lengths{0, 1, 2, 4, 8, 21, 22, 64, 100, 1000, bytes.size() - 1, bytes.size() - 22};
    for (std::size_t i = 1; i < 100; ++i) lengths.push_back(bytes.size() * i / 100);
    for (const std::size_t length : lengths) {
      SCOPED_TRACE(std::string(file) + " cut at " + std::to_string(length));
      try {
        checkpoint_from(pytorch::read_torch_bytes(bytes.substr(0, length), "cut.pth"), "cut.pth");
        ADD_FAILURE() << "a truncated file was read";
      } catch (const sdk::DataError& error) {
        EXPECT_THAT(error.what(), HasSubstr("cut.pth"));
      }
    }
  }
}

TEST(RfdetrCheckpoint, FlippedBytesAreErrorsOrHarmless) {
  SKIP_WITHOUT_FIXTURES();
  for (const char* file : {"pretrained.pth", "pretrained_legacy.pth"}) {
    const std::string bytes = file_bytes(kCheckpoints / file);
    const NamedTensors original = read_checkpoint(kCheckpoints / file).model;
    const bool zip = std::string(file) == "pretrained.pth";
    std::mt19937 random(7);
    // The first and last kilobytes (headers, pickle, directory) byte by byte, the rest at random.
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < 1024; i += 5) offsets.push_back(i), offsets.push_back(bytes.size() - 1 - i);
    for (int i = 0; i < 300; ++i) offsets.push_back(random() % bytes.size());
    for (const std::size_t at : offsets) {
      std::string changed = bytes;
      changed[at] = static_cast<char>(changed[at] ^ (1 + random() % 255));
      expect_error_or_same(changed, original, zip, std::string(file) + " byte " + std::to_string(at));
    }
  }
}

// --- files PyTorch writes here (dtypes and forms the fixtures do not have)

// A python3 that has torch ("" when none): Debian's python3-torch lives in /usr/bin/python3.
std::string torch_python() {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    if (rtseg::testing::run(std::string(python) + " -c 'import torch' 2>/dev/null").exit_code == 0) return python;
  }
  return "";
}

constexpr const char* kWriteCheckpoints = R"PY(
import argparse, collections, sys, torch
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
model = collections.OrderedDict()
model['f16'] = torch.arange(6, dtype=torch.float16).reshape(2, 3) / 4
model['bf16'] = torch.arange(5, dtype=torch.bfloat16) - 2
model['f64'] = torch.arange(3, dtype=torch.float64) / 3
for name, dtype in [('i64', torch.int64), ('i32', torch.int32), ('i16', torch.int16), ('i8', torch.int8),
                    ('u8', torch.uint8)]:
    model[name] = torch.arange(4).to(dtype) * (1 if dtype == torch.uint8 else -1)
model['bool'] = torch.tensor([True, False, True])
model['param'] = torch.nn.Parameter(torch.full((2, 2), 0.5))
model['base'] = base
model['view'] = base[1:, ::2]
model['scalar'] = torch.tensor(3.0)
model['empty'] = torch.zeros(0, 5)
args = argparse.Namespace(num_classes=2, class_names=['cat', 'dog'], lr=1e-4, betas=(0.9, 0.999), none=None,
                          nested={'a': [1, 2.5, 'x'], 3: True}, flag=False, big=2**70)
extra = collections.OrderedDict(inner=collections.OrderedDict(t=base))
obj = {'model': model, 'args': args, 'epoch': 2, 'extra': extra}
torch.save(obj, sys.argv[1] + '/zip.pth')
torch.save(obj, sys.argv[1] + '/legacy.pth', _use_new_zipfile_serialization=False)
)PY";

void expect_written_model(const Checkpoint& checkpoint) {
  const auto& m = checkpoint.model;
  ASSERT_EQ(m.size(), 14u);
  const auto arange = [](int n) { return at::arange(n, at::kFloat); };
  EXPECT_EQ(m.at("f16").scalar_type(), at::kHalf);
  EXPECT_TRUE(m.at("f16").to(at::kFloat).equal(arange(6).reshape({2, 3}) / 4));
  EXPECT_EQ(m.at("bf16").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(m.at("bf16").to(at::kFloat).equal(arange(5) - 2));
  EXPECT_TRUE(m.at("f64").equal(at::arange(3, at::kDouble) / 3));
  for (const auto& [name, type] : std::vector<std::pair<std::string, at::ScalarType>>{
           {"i64", at::kLong}, {"i32", at::kInt}, {"i16", at::kShort}, {"i8", at::kChar}, {"u8", at::kByte}}) {
    EXPECT_EQ(m.at(name).scalar_type(), type) << name;
    EXPECT_TRUE(m.at(name).to(at::kFloat).equal(arange(4) * (type == at::kByte ? 1 : -1))) << name;
  }
  EXPECT_TRUE(m.at("bool").equal(at::tensor({1, 0, 1}).to(at::kBool)));
  EXPECT_TRUE(m.at("param").equal(at::full({2, 2}, 0.5)));
  EXPECT_FALSE(m.at("param").requires_grad());
  // A view keeps its offset and strides, on the same storage as its base.
  EXPECT_TRUE(m.at("view").equal(arange(12).reshape({3, 4}).slice(0, 1).slice(1, 0, 4, 2)));
  EXPECT_EQ(m.at("view").strides(), (std::vector<std::int64_t>{4, 2}));
  EXPECT_TRUE(m.at("view").storage().is_alias_of(m.at("base").storage()));
  EXPECT_EQ(m.at("scalar").dim(), 0);
  EXPECT_EQ(m.at("scalar").item<float>(), 3.0f);
  EXPECT_EQ(m.at("empty").sizes(), (std::vector<std::int64_t>{0, 5}));
  EXPECT_EQ(checkpoint.epoch, 2);
  // json.dumps(vars(args), default=repr): a tuple as a list, int keys as strings, 2**70 as its repr.
  EXPECT_EQ(checkpoint.args, Json::parse(R"({"num_classes": 2, "class_names": ["cat", "dog"], "lr": 0.0001,
      "betas": [0.9, 0.999], "none": null, "nested": {"a": [1, 2.5, "x"], "3": true}, "flag": false,
      "big": "1180591620717411303424"})"));
}

TEST(RfdetrCheckpoint, ReadsWhatPyTorchWritesInBothFormats) {
  const std::string python = torch_python();
  if (python.empty()) GTEST_SKIP() << "needs python3 with torch (Debian: python3-torch) to write test checkpoints";
  rtseg::testing::TempDir dir;
  const auto script = dir.write("write.py", kWriteCheckpoints);
  const auto written = rtseg::testing::run(python + " " + script.string() + " " + dir.path().string());
  ASSERT_EQ(written.exit_code, 0) << written.err;
  for (const char* file : {"zip.pth", "legacy.pth"}) {
    SCOPED_TRACE(file);
    expect_written_model(read_checkpoint(dir / file));
  }
}

std::string error_reading(const std::string& pickle) {
  try {
    checkpoint_from(pytorch::read_torch_bytes(rtseg::testing::zip_checkpoint(pickle), "w.pth"), "w.pth");
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  return "no error";
}

TEST(RfdetrCheckpoint, WrongContentsAreNamed) {
  using rtseg::testing::PickleWriter;
  const std::string optimizer_only =
      PickleWriter().op('}').op('(').text("optimizer").op('}').text("epoch").integer(3).op('u').bytes();
  EXPECT_EQ(error_reading(optimizer_only), "w.pth: has no 'model' entry (it has: 'optimizer', 'epoch').");
  EXPECT_EQ(error_reading(PickleWriter().op('}').text("model").op('}').text("w").integer(1).op('s').op('s').bytes()),
            "w.pth: 'model' entry 'w' is not a named tensor (int).");
  EXPECT_EQ(error_reading(PickleWriter().op('}').text("model").op(']').op('s').bytes()),
            "w.pth: 'model' is not a state dict of tensors (list).");
  EXPECT_EQ(error_reading(PickleWriter().op('}').op('(').text("model").op('}').text("args").integer(5).op('u').bytes()),
            "w.pth: 'args' is not RF-DETR's argument namespace (int).");
  EXPECT_EQ(error_reading(PickleWriter().op(']').bytes()),
            "w.pth: holds no checkpoint dict with a 'model' entry (list).");
  rtseg::testing::TempDir dir;
  EXPECT_THROW(read_checkpoint(dir / "missing.pth"), sdk::DataError);
}

}  // namespace
}  // namespace rtseg::framework::rfdetr
