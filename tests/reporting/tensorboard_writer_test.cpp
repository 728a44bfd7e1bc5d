#include "rtseg/framework/reporting/tensorboard_writer.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "event_file_reader.h"
#include "rtseg/framework/reporting/crc32c.h"
#include "rtseg/framework/reporting/protobuf_wire.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "test_support.h"

namespace rtseg::framework::reporting {
namespace {

using testing::decode_proto;
using testing::field;
using testing::read_records;

TEST(Crc32c, MatchesTheCastagnoliCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(ProtoMessage, EncodesVarintsFixedValuesAndBytes) {
  ProtoMessage message;
  message.varint(1, 300);         // key 0x08, 300 = 0xAC 0x02
  message.float_value(2, 1.0f);   // key 0x15, 0x3F800000 little-endian
  message.bytes(3, "hi");         // key 0x1A, length 2
  message.double_value(16, 2.0);  // key 0x81 0x01 (two-byte key), 0x4000000000000000
  const std::string expected("\x08\xAC\x02\x15\x00\x00\x80\x3F\x1A\x02hi\x81\x01\x00\x00\x00\x00\x00\x00\x00\x40",
                             22);
  EXPECT_EQ(message.data(), expected);
  ProtoMessage negative;
  negative.varint(1, static_cast<std::uint64_t>(std::int64_t{-1}));
  EXPECT_EQ(negative.data().size(), 11u);  // key + 10 bytes, as protobuf encodes negative int64
}

// Writes one of each kind of record and returns the event file.
std::filesystem::path write_sample_events(const std::filesystem::path& folder) {
  TensorBoardWriter writer(folder);
  writer.add_scalar("train/loss", 2.25, 7);
  writer.add_scalars({{"lr/pg0", 0.5}, {"metrics/mAP50(B)", -1.5}}, 8);
  torch::Tensor chw = torch::zeros({3, 4, 5}, torch::kByte);
  chw[0].fill_(255);  // red
  writer.add_image("val/predictions", chw, 9);
  writer.add_text("recipe", "lr = 1e-4", 0);
  return writer.file();
}

TEST(TensorBoardWriter, NamesTheFileAsTensorBoardExpects) {
  testing::TempDir dir;
  TensorBoardWriter first(dir / "runs/a");
  TensorBoardWriter second(dir / "runs/a");  // same second, same folder: a new file, not a rewrite
  EXPECT_EQ(first.file().parent_path(), dir / "runs/a");
  EXPECT_EQ(first.file().filename().string().rfind("events.out.tfevents.", 0), 0u);
  EXPECT_NE(first.file(), second.file());
  EXPECT_TRUE(std::filesystem::exists(first.file()));
  EXPECT_TRUE(std::filesystem::exists(second.file()));
}

TEST(TensorBoardWriter, RecordsDecodeToTheEventsWritten) {
  testing::TempDir dir;
  const std::filesystem::path file = write_sample_events(dir.path());
  const std::vector<std::string> records = read_records(file.string());
  ASSERT_EQ(records.size(), 5u);

  const auto version = decode_proto(records[0]);
  EXPECT_EQ(field(version, 3).bytes, "brain.Event:2");
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(field(version, 1).as_double(), now, 60.0);
  EXPECT_EQ(field(version, 1).wire_type, 1);

  const auto scalar_event = decode_proto(records[1]);
  EXPECT_EQ(field(scalar_event, 2).number, 7u);
  const auto scalar = decode_proto(field(decode_proto(field(scalar_event, 5).bytes), 1).bytes);
  EXPECT_EQ(field(scalar, 1).bytes, "train/loss");
  EXPECT_EQ(field(scalar, 2).wire_type, 5);
  EXPECT_EQ(field(scalar, 2).as_float(), 2.25f);

  const auto scalars_event = decode_proto(records[2]);
  EXPECT_EQ(field(scalars_event, 2).number, 8u);
  const auto values = decode_proto(field(scalars_event, 5).bytes);
  ASSERT_EQ(values.count(1), 2u);
  auto value = values.equal_range(1).first;
  EXPECT_EQ(field(decode_proto(value->second.bytes), 1).bytes, "lr/pg0");
  EXPECT_EQ(field(decode_proto(value->second.bytes), 2).as_float(), 0.5f);
  ++value;
  EXPECT_EQ(field(decode_proto(value->second.bytes), 1).bytes, "metrics/mAP50(B)");
  EXPECT_EQ(field(decode_proto(value->second.bytes), 2).as_float(), -1.5f);

  const auto image_event = decode_proto(records[3]);
  const auto image_value = decode_proto(field(decode_proto(field(image_event, 5).bytes), 1).bytes);
  EXPECT_EQ(field(image_value, 1).bytes, "val/predictions");
  const auto image = decode_proto(field(image_value, 4).bytes);
  EXPECT_EQ(field(image, 1).number, 4u);  // height
  EXPECT_EQ(field(image, 2).number, 5u);  // width
  EXPECT_EQ(field(image, 3).number, 3u);  // RGB
  const std::string& png = field(image, 4).bytes;
  const sdk::DecodedImage decoded = sdk::decode_image(std::vector<std::uint8_t>(png.begin(), png.end()), "png");
  ASSERT_EQ(decoded.pixels.sizes(), (std::vector<std::int64_t>{4, 5, 3}));
  EXPECT_TRUE(decoded.pixels.select(2, 0).eq(255).all().item<bool>());
  EXPECT_TRUE(decoded.pixels.select(2, 1).eq(0).all().item<bool>());

  const auto text_value = decode_proto(field(decode_proto(field(decode_proto(records[4]), 5).bytes), 1).bytes);
  EXPECT_EQ(field(text_value, 1).bytes, "recipe");
  const auto plugin = decode_proto(field(decode_proto(field(text_value, 9).bytes), 1).bytes);
  EXPECT_EQ(field(plugin, 1).bytes, "text");
  const auto tensor = decode_proto(field(text_value, 8).bytes);
  EXPECT_EQ(field(tensor, 1).number, 7u);  // DT_STRING
  EXPECT_EQ(field(tensor, 8).bytes, "lr = 1e-4");
}

TEST(TensorBoardWriter, AcceptsTheImageLayoutsItDocuments) {
  testing::TempDir dir;
  std::filesystem::path file;
  {
    TensorBoardWriter writer(dir.path());
    writer.add_image("grey", torch::full({6, 2}, 7, torch::kByte), 1);
    writer.add_image("rgba_hwc", torch::zeros({2, 6, 4}, torch::kByte), 2);
    writer.add_image("float_chw", torch::full({1, 3, 2}, 0.5), 3);
    EXPECT_THROW(writer.add_image("bad", torch::zeros({2, 2, 2, 3}, torch::kByte), 4), sdk::Error);
    EXPECT_THROW(writer.add_image("bad", torch::zeros({5, 6, 7}, torch::kByte), 4), sdk::Error);
    EXPECT_THROW(writer.add_image("bad", torch::zeros({2, 2, 3}, torch::kInt), 4), sdk::Error);
    file = writer.file();
  }
  const auto records = read_records(file.string());
  ASSERT_EQ(records.size(), 4u);
  const std::vector<std::vector<std::uint64_t>> expected = {{6, 2, 1}, {2, 6, 3}, {3, 2, 1}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto value = decode_proto(field(decode_proto(field(decode_proto(records[i + 1]), 5).bytes), 1).bytes);
    const auto image = decode_proto(field(value, 4).bytes);
    EXPECT_EQ(field(image, 1).number, expected[i][0]);
    EXPECT_EQ(field(image, 2).number, expected[i][1]);
    EXPECT_EQ(field(image, 3).number, expected[i][2]);
    if (i == 2) {
      const std::string& png = field(image, 4).bytes;
      const auto pixels = sdk::decode_image(std::vector<std::uint8_t>(png.begin(), png.end()), "png").pixels;
      EXPECT_EQ(pixels[0][0][0].item<int>(), 128);  // 0.5 * 255 rounded
    }
  }
}

TEST(TensorBoardWriter, BuffersRecordsUntilTheFlushPolicySaysSo) {
  testing::TempDir dir;
  TensorBoardWriterOptions options;
  options.flush_every_records = 3;
  options.flush_every_seconds = 1e9;
  TensorBoardWriter writer(dir.path(), options);
  auto records_on_disk = [&] { return read_records(writer.file().string()).size(); };
  EXPECT_EQ(records_on_disk(), 1u);  // the version record is written at once
  writer.add_scalar("a", 1, 1);
  writer.add_scalar("a", 2, 2);
  EXPECT_EQ(records_on_disk(), 1u);
  writer.add_scalar("a", 3, 3);
  EXPECT_EQ(records_on_disk(), 4u);
  writer.add_scalar("a", 4, 4);
  writer.flush();
  EXPECT_EQ(records_on_disk(), 5u);

  options.flush_every_records = 1000;
  options.flush_every_seconds = 0;  // every record is older than zero seconds
  TensorBoardWriter eager(dir / "eager", options);
  eager.add_scalar("a", 1, 1);
  EXPECT_EQ(read_records(eager.file().string()).size(), 2u);
}

TEST(TensorBoardWriter, ThrowsANamedErrorWhenTheFolderCannotBeWritten) {
  testing::TempDir dir;
  const auto blocker = dir.write("not_a_folder", "x");
  try {
    TensorBoardWriter writer(blocker);
    FAIL() << "expected an error";
  } catch (const sdk::Error& error) {
    EXPECT_NE(std::string(error.what()).find("not_a_folder"), std::string::npos) << error.what();
  }
}

TEST(TensorBoardWriter, AnIndependentPythonReaderAgrees) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  testing::TempDir dir;
  const std::filesystem::path file = write_sample_events(dir.path());
  const auto result = testing::run("/usr/bin/python3 " RTSEG_SOURCE_DIR "/tests/reporting/read_tfevents.py " +
                                   file.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string expected_head =
      "version brain.Event:2\n"
      "7 train/loss scalar 2.25\n"
      "8 lr/pg0 scalar 0.5\n"
      "8 metrics/mAP50(B) scalar -1.5\n"
      "9 val/predictions image 4x5x3 ";
  EXPECT_EQ(result.out.substr(0, expected_head.size()), expected_head) << result.out;
  EXPECT_NE(result.out.find("\n0 recipe text lr = 1e-4\n"), std::string::npos) << result.out;
}

TEST(TensorBoardWriter, TheRealTensorBoardReaderLoadsTheFile) {
  if (testing::run("/usr/bin/python3 -c 'import tensorboard'").exit_code != 0)
    GTEST_SKIP() << "python3 cannot import tensorboard";
  testing::TempDir dir;
  const std::filesystem::path file = write_sample_events(dir.path());
  const std::string script =
      "import sys\n"
      "from tensorboard.backend.event_processing import event_accumulator as ea\n"
      "acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.IMAGES: 0, ea.SCALARS: 0})\n"
      "acc.Reload()\n"
      "s = acc.Scalars('train/loss')[0]\n"
      "i = acc.Images('val/predictions')[0]\n"
      "print(s.step, s.value, i.step, i.height, i.width)\n";
  dir.write("check.py", script);
  const auto result = testing::run("/usr/bin/python3 " + (dir / "check.py").string() + " " + file.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "7 2.25 9 4 5\n");
}

}  // namespace
}  // namespace rtseg::framework::reporting
