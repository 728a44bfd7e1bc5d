#include "rtseg/sdk/safetensors.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::sdk {
namespace {

namespace fs = std::filesystem;
using rtseg::testing::TempDir;
using ::testing::HasSubstr;

std::string bytes_of(const at::Tensor& tensor) {
  const at::Tensor dense = tensor.contiguous();
  return std::string(static_cast<const char*>(dense.data_ptr()), dense.nbytes());
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> files_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// A file with the given 8-byte length (default: the header's), header text and zero data.
fs::path raw_file(const TempDir& dir, const std::string& header, std::size_t data_bytes,
                  std::optional<std::uint64_t> length = std::nullopt) {
  const fs::path file = dir / "raw.safetensors";
  std::ofstream out(file, std::ios::binary);
  const std::uint64_t n = length.value_or(header.size());
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
  return file;
}

// Opening `file` fails with a DataError naming the file and every one of `parts`.
void expect_rejected(const fs::path& file, const std::vector<std::string>& parts) {
  try {
    SafetensorsFile::open(file);
    ADD_FAILURE() << "accepted " << slurp(file).substr(8);
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr(file.string()));
    for (const auto& part : parts) EXPECT_THAT(error.what(), HasSubstr(part));
  }
}

std::vector<std::pair<std::string, at::Tensor>> every_kind_of_tensor() {
  const auto range = [](at::ScalarType type) { return at::arange(-6, 6).to(type); };
  return {
      {"f64", at::arange(0, 10).to(at::kDouble).mul(0.1)},
      {"f32", at::randn({3, 5})},
      {"f16", at::arange(-6, 6).mul(0.3).to(at::kHalf).view({3, 4})},
      {"bf16", at::arange(-6, 6).mul(0.7).to(at::kBFloat16)},
      {"i64", at::arange(0, 4).to(at::kLong).mul(std::int64_t{1} << 40)},
      {"i32", range(at::kInt)},
      {"i16", range(at::kShort)},
      {"i8", range(at::kChar)},
      {"u8", at::arange(250, 256).to(at::kByte)},
      {"bool", at::arange(0, 7).remainder(3).eq(0)},
      {"scalar", at::full({}, 3.5)},
      {"empty", at::zeros({0, 3})},
      {"transposed", at::arange(0, 12).to(at::kFloat).view({3, 4}).t()},
  };
}

TEST(Safetensors, RoundTripsEveryDtypeBitForBit) {
  TempDir dir;
  const auto tensors = every_kind_of_tensor();
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"note", "a \"quoted\" é"}};
  save_safetensors(dir / "all.safetensors", tensors, metadata);

  const auto file = SafetensorsFile::open(dir / "all.safetensors");
  std::vector<std::string> expected_names;
  for (const auto& [name, tensor] : tensors) expected_names.push_back(name);
  std::sort(expected_names.begin(), expected_names.end());
  EXPECT_EQ(file.names(), expected_names);
  EXPECT_EQ(file.metadata(), metadata);
  EXPECT_EQ(file.path(), dir / "all.safetensors");
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.contains(name));
    const at::Tensor loaded = file.get(name);
    EXPECT_EQ(loaded.scalar_type(), tensor.scalar_type());
    EXPECT_EQ(loaded.sizes(), tensor.sizes());
    EXPECT_TRUE(loaded.device().is_cpu());
    EXPECT_EQ(bytes_of(loaded), bytes_of(tensor));
  }
  EXPECT_EQ(file.get("scalar").dim(), 0);
  EXPECT_EQ(file.get("transposed")[0][1].item<float>(), 4.0f);  // written in its logical order
  EXPECT_FALSE(file.contains("F32"));
}

TEST(Safetensors, WritesPaddedHeaderAndElementAlignedData) {
  TempDir dir;
  save_safetensors(dir / "a.safetensors", every_kind_of_tensor());
  const std::string bytes = slurp(dir / "a.safetensors");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  const std::size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << header;
  const auto json = nlohmann::json::parse(header);
  EXPECT_FALSE(json.contains("__metadata__"));   // none given: none written
  EXPECT_EQ(json["f64"]["data_offsets"][0], 0);  // largest elements first
  EXPECT_EQ(json["bool"]["dtype"], "BOOL");
  EXPECT_EQ(json["scalar"]["shape"], nlohmann::json::array());
  EXPECT_EQ(json["bf16"]["dtype"], "BF16");
  for (const auto& [name, entry] : json.items()) {
    const std::uint64_t begin = entry["data_offsets"][0];
    const std::string dtype = entry["dtype"];
    const std::uint64_t itemsize = dtype == "F64" || dtype == "I64"                      ? 8
                                   : dtype == "F32" || dtype == "I32"                    ? 4
                                   : dtype == "F16" || dtype == "BF16" || dtype == "I16" ? 2
                                                                                         : 1;
    EXPECT_EQ(begin % itemsize, 0u) << name;
  }
}

TEST(Safetensors, RejectsMalformedFilesNamingFileAndTensor) {
  TempDir dir;
  const std::string f32 = R"("dtype":"F32","shape":[2])";
  expect_rejected(dir.write("short.safetensors", "12345"), {"5 bytes long"});
  expect_rejected(raw_file(dir, "{}", 0, 50), {"header length 50 runs past the end"});
  expect_rejected(raw_file(dir, "{}", 0, 200'000'000), {"over the 100 MB limit"});
  expect_rejected(raw_file(dir, "{not json", 0), {"not valid JSON"});
  expect_rejected(raw_file(dir, "[1, 2]", 0), {"not a JSON object"});
  expect_rejected(raw_file(dir, R"({"w": 3})", 0), {"tensor 'w'", "not a JSON object"});
  expect_rejected(raw_file(dir, R"({"w": {"shape":[2],"data_offsets":[0,8]}})", 8),
                  {"tensor 'w'", "missing 'dtype'"});
  expect_rejected(raw_file(dir, R"({"w": {"dtype":"F32","shape":"2","data_offsets":[0,8]}})", 8),
                  {"tensor 'w'", "'shape' is not a list"});
  expect_rejected(raw_file(dir, R"({"w": {"dtype":"F8","shape":[2],"data_offsets":[0,8]}})", 8),
                  {"tensor 'w'", "unknown dtype 'F8'"});
  expect_rejected(raw_file(dir, R"({"w": {"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                  {"tensor 'w'", "'shape' must not be negative"});
  expect_rejected(
      raw_file(dir,
               R"({"w": {"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
      {"tensor 'w'", "too many elements"});
  expect_rejected(raw_file(dir, R"({"w": {)" + f32 + R"(,"data_offsets":[8,0]}})", 8),
                  {"tensor 'w'", "data_offsets [8, 0] end before begin"});
  expect_rejected(raw_file(dir, R"({"w": {)" + f32 + R"(,"data_offsets":[4,12]}})", 8),
                  {"tensor 'w'", "data_offsets [4, 12] run past the end of the data (8 bytes)"});
  expect_rejected(raw_file(dir, R"({"w": {)" + f32 + R"(,"data_offsets":[0,4]}})", 8),
                  {"tensor 'w'", "hold 4 bytes, but F32 [2] needs 2 x 4"});
  expect_rejected(raw_file(dir, R"({"w": {)" + f32 + R"(,"data_offsets":[0,8.5]}})", 8),
                  {"tensor 'w'", "must hold integers"});
  expect_rejected(raw_file(dir,
                           R"({"a": {)" + f32 + R"(,"data_offsets":[0,8]}, "b": {)" + f32 +
                               R"(,"data_offsets":[4,12]}})",
                           12),
                  {"tensor 'b'", "overlaps tensor 'a'"});
  expect_rejected(raw_file(dir,
                           R"({"a": {)" + f32 + R"(,"data_offsets":[0,8]}, "a": {)" + f32 +
                               R"(,"data_offsets":[8,16]}})",
                           16),
                  {"tensor 'a' is listed twice"});
  expect_rejected(raw_file(dir, R"({"a": {)" + f32 + R"(,"dtype":"F64","data_offsets":[0,8]}})", 8),
                  {"'a' has key 'dtype' twice"});
  expect_rejected(raw_file(dir, R"({"__metadata__": {"k": 1}})", 0),
                  {"'__metadata__' value of 'k' is not a string"});
}

TEST(Safetensors, AcceptsEmptyTensorsAndDataWithoutPadding) {
  TempDir dir;
  // A U8 tensor first leaves the F32 one at offset 1: not 4-byte aligned, so it is copied.
  const std::string header = R"({"u": {"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"( "f": {"dtype":"F32","shape":[2],"data_offsets":[1,9]},)"
                             R"( "e": {"dtype":"F32","shape":[0,5],"data_offsets":[9,9]}})";
  const fs::path path = dir / "odd.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = header.size();
    const float values[2] = {1.5f, -2.25f};
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << '\x07';
    out.write(reinterpret_cast<const char*>(values), sizeof(values));
  }
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.get("u").item<std::uint8_t>(), 7);
  const at::Tensor f = file.get("f");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.data_ptr()) % 4, 0u);
  EXPECT_EQ(f[0].item<float>(), 1.5f);
  EXPECT_EQ(f[1].item<float>(), -2.25f);
  EXPECT_EQ(file.get("e").sizes(), (std::vector<std::int64_t>{0, 5}));
}

TEST(Safetensors, MissingTensorErrorNamesFileAndTensor) {
  TempDir dir;
  save_safetensors(dir / "w.safetensors", {{"class_embed.weight", at::zeros({2, 2})}});
  const auto file = SafetensorsFile::open(dir / "w.safetensors");
  try {
    file.get("class_embed.weigth");
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr((dir / "w.safetensors").string()));
    EXPECT_THAT(error.what(), HasSubstr("tensor 'class_embed.weigth': not in this file"));
    EXPECT_THAT(error.what(), HasSubstr("Did you mean 'class_embed.weight'?"));
  }
}

TEST(Safetensors, ViewsOutliveTheFileObjectAndNeverWriteTheFile) {
  TempDir dir;
  const fs::path path = dir / "w.safetensors";
  save_safetensors(path, {{"w", at::arange(0, 1000).to(at::kFloat)}});
  const std::string before = slurp(path);
  at::Tensor view;
  {
    const auto file = SafetensorsFile::open(path);
    view = file.get("w");
  }
  fs::remove(path);  // the mapping stays valid
  EXPECT_EQ(view[999].item<float>(), 999.0f);

  save_safetensors(path, {{"w", at::arange(0, 1000).to(at::kFloat)}});
  const auto file = SafetensorsFile::open(path);
  file.get("w").add_(1);  // private copy-on-write mapping
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(SafetensorsFile::open(path).get("w")[0].item<float>(), 0.0f);
}

TEST(Safetensors, RejectsTensorsItCannotWriteAndKeepsThePreviousFile) {
  TempDir dir;
  const fs::path path = dir / "w.safetensors";
  save_safetensors(path, {{"old", at::arange(0, 4).to(at::kFloat)}});
  const std::string before = slurp(path);
  const auto expect_refused = [&](const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                  const std::string& message) {
    try {
      save_safetensors(path, tensors);
      ADD_FAILURE() << "no error for " << message;
    } catch (const DataError& error) {
      EXPECT_THAT(error.what(), HasSubstr(path.string()));
      EXPECT_THAT(error.what(), HasSubstr(message));
    }
    EXPECT_EQ(slurp(path), before);
    EXPECT_EQ(files_in(dir.path()), std::vector<std::string>{"w.safetensors"});
  };
  expect_refused({{"c", at::zeros({2}, at::kComplexFloat)}}, "tensor 'c': dtype ComplexFloat");
  expect_refused({{"a", at::zeros({2})}, {"a", at::zeros({2})}}, "tensor 'a': given twice");
  expect_refused({{"__metadata__", at::zeros({2})}}, "invalid tensor name '__metadata__'");
  expect_refused({{"u", at::Tensor()}}, "tensor 'u': is an undefined tensor");
  EXPECT_THROW(save_safetensors(dir / "no" / "such" / "folder.safetensors", {}), DataError);
}

TEST(Safetensors, FailedWriteKeepsThePreviousFileAndRemovesTheTemporaryOne) {
  TempDir dir;
  const fs::path path = dir / "w.safetensors";
  save_safetensors(path, {{"old", at::arange(0, 4).to(at::kFloat)}});
  const std::string before = slurp(path);

  // A file-size limit makes write() fail half way (EFBIG), for root too.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    save_safetensors(path, {{"big", at::zeros({100000})}});
  } catch (const DataError& error) {
    message = error.what();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);

  EXPECT_THAT(message, HasSubstr("cannot write"));
  EXPECT_THAT(message, HasSubstr(path.string()));
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(files_in(dir.path()), std::vector<std::string>{"w.safetensors"});
}

TEST(Safetensors, ReadsTheRfdetrFixtureWeights) {
  const fs::path path = fs::path(RTSEG_RFDETR_FIXTURES) / "tiny_seg" / "weights.safetensors";
  if (!fs::exists(path)) GTEST_SKIP() << "RF-DETR fixtures not found at " << path;
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.names().size(), 344u);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.get("class_embed.weight").sizes(), (std::vector<std::int64_t>{4, 64}));
  EXPECT_EQ(file.get("refpoint_embed.weight").sizes(), (std::vector<std::int64_t>{260, 4}));
  EXPECT_EQ(file.get("backbone.0.encoder.encoder.embeddings.position_embeddings").sizes(),
            (std::vector<std::int64_t>{1, 65, 64}));
  const at::Tensor bias = file.get("class_embed.bias");
  EXPECT_EQ(bias.scalar_type(), at::kFloat);
  EXPECT_EQ(bias[0].item<float>(), -4.571882247924805f);  // read with Python's struct module
}

}  // namespace
}  // namespace rtseg::sdk
