#include "rtseg/framework/reporting/tensorboard_writer.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "rtseg/framework/reporting/crc32c.h"
#include "rtseg/framework/reporting/protobuf_wire.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::framework::reporting {
namespace {

// Field numbers of tensorflow/core/util/event.proto and framework/summary.proto.
namespace event_field {
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5;
}
namespace value_field {
constexpr int kTag = 1, kSimpleValue = 2, kImage = 4, kTensor = 8, kMetadata = 9;
}
namespace image_field {
constexpr int kHeight = 1, kWidth = 2, kColorspace = 3, kEncoded = 4;
}
constexpr int kSummaryValue = 1;
constexpr int kDtypeString = 7;  // tensorflow.DataType.DT_STRING

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw sdk::Error("cannot write TensorBoard events to " + file.string() + ": " + what + " (" +
                   std::strerror(errno) + ")");
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_with_summary(const ProtoMessage& summary, std::int64_t step) {
  ProtoMessage event;
  event.double_value(event_field::kWallTime, unix_seconds_now());
  event.varint(event_field::kStep, static_cast<std::uint64_t>(step));
  event.message(event_field::kSummary, summary);
  return event.data();
}

// uint8 [H, W, C] with C in {1, 3} on the CPU, from the layouts add_image accepts.
at::Tensor to_png_layout(const std::filesystem::path& file, const at::Tensor& image) {
  auto is_channels = [](std::int64_t c) { return c == 1 || c == 3 || c == 4; };
  at::Tensor hwc;
  if (image.dim() == 2) {
    hwc = image.unsqueeze(2);
  } else if (image.dim() == 3 && is_channels(image.size(2))) {
    hwc = image;
  } else if (image.dim() == 3 && is_channels(image.size(0))) {
    hwc = image.permute({1, 2, 0});
  } else {
    errno = EINVAL;
    fail(file, "add_image wants [H, W], [H, W, C] or [C, H, W] with C in {1, 3, 4}, got " +
                   std::to_string(image.dim()) + " dimensions");
  }
  if (hwc.size(2) == 4) hwc = hwc.slice(2, 0, 3);
  if (hwc.is_floating_point()) {
    hwc = hwc.mul(255.0).round().clamp(0, 255).to(at::kByte);
  } else if (hwc.scalar_type() != at::kByte) {
    errno = EINVAL;
    fail(file, "add_image wants uint8 or floating point pixels");
  }
  return hwc.cpu().contiguous();
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& folder, TensorBoardWriterOptions options)
    : options_(options) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  const double now = unix_seconds_now();
  const std::string base = "events.out.tfevents." + std::to_string(static_cast<std::int64_t>(now)) + "." +
                           host_name();
  for (int attempt = 0; fd_ < 0; ++attempt) {
    file_ = folder / (attempt == 0 ? base : base + "." + std::to_string(attempt));
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || attempt > 1000)) fail(file_, "cannot create the file");
  }
  ProtoMessage event;
  event.double_value(event_field::kWallTime, now);
  event.bytes(event_field::kFileVersion, "brain.Event:2");
  try {
    write_event(event.data());
    flush();  // TensorBoard shows the run as soon as the file has its header record
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (const std::exception&) {
    // nothing sensible to do while destroying; flush() already reported by throwing before
  }
  ::fsync(fd_);
  ::close(fd_);
}

void TensorBoardWriter::add_scalar(std::string_view tag, double value, std::int64_t step) {
  ProtoMessage tagged;
  tagged.bytes(value_field::kTag, tag);
  tagged.float_value(value_field::kSimpleValue, static_cast<float>(value));
  ProtoMessage summary;
  summary.message(kSummaryValue, tagged);
  write_event(event_with_summary(summary, step));
}

void TensorBoardWriter::add_scalars(const std::vector<std::pair<std::string, double>>& tagged_values,
                                    std::int64_t step) {
  if (tagged_values.empty()) return;
  ProtoMessage summary;
  for (const auto& [tag, value] : tagged_values) {
    ProtoMessage tagged;
    tagged.bytes(value_field::kTag, tag);
    tagged.float_value(value_field::kSimpleValue, static_cast<float>(value));
    summary.message(kSummaryValue, tagged);
  }
  write_event(event_with_summary(summary, step));
}

void TensorBoardWriter::add_image(std::string_view tag, const at::Tensor& image, std::int64_t step) {
  at::Tensor pixels = to_png_layout(file_, image);
  const int channels = static_cast<int>(pixels.size(2));
  if (channels == 1) pixels = pixels.squeeze(2);  // encode_png takes grey as [H, W]
  const std::vector<std::uint8_t> png = sdk::encode_png(pixels);
  ProtoMessage picture;
  picture.varint(image_field::kHeight, static_cast<std::uint64_t>(pixels.size(0)));
  picture.varint(image_field::kWidth, static_cast<std::uint64_t>(pixels.size(1)));
  picture.varint(image_field::kColorspace, static_cast<std::uint64_t>(channels));  // 1 grey, 3 RGB
  picture.bytes(image_field::kEncoded,
                std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  ProtoMessage tagged;
  tagged.bytes(value_field::kTag, tag);
  tagged.message(value_field::kImage, picture);
  ProtoMessage summary;
  summary.message(kSummaryValue, tagged);
  write_event(event_with_summary(summary, step));
}

void TensorBoardWriter::add_text(std::string_view tag, std::string_view text, std::int64_t step) {
  // The text plugin reads a DT_STRING TensorProto of shape [1] tagged with plugin_name "text".
  ProtoMessage dim;
  dim.varint(1, 1);  // TensorShapeProto.Dim.size
  ProtoMessage shape;
  shape.message(2, dim);  // TensorShapeProto.dim
  ProtoMessage tensor;
  tensor.varint(1, kDtypeString);  // TensorProto.dtype
  tensor.message(2, shape);        // TensorProto.tensor_shape
  tensor.bytes(8, text);           // TensorProto.string_val
  ProtoMessage plugin;
  plugin.bytes(1, "text");  // PluginData.plugin_name
  ProtoMessage metadata;
  metadata.message(1, plugin);  // SummaryMetadata.plugin_data
  ProtoMessage tagged;
  tagged.bytes(value_field::kTag, tag);
  tagged.message(value_field::kMetadata, metadata);
  tagged.message(value_field::kTensor, tensor);
  ProtoMessage summary;
  summary.message(kSummaryValue, tagged);
  write_event(event_with_summary(summary, step));
}

void TensorBoardWriter::write_event(const std::string& event) {
  char length[8];
  const std::uint64_t size = event.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  auto append_u32 = [this](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) pending_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  if (pending_records_ == 0) oldest_pending_ = std::chrono::steady_clock::now();
  pending_.append(length, sizeof(length));
  append_u32(masked_crc32c(std::string_view(length, sizeof(length))));
  pending_ += event;
  append_u32(masked_crc32c(event));
  ++pending_records_;
  const double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - oldest_pending_).count();
  if (pending_records_ >= options_.flush_every_records || age >= options_.flush_every_seconds) flush();
}

void TensorBoardWriter::flush() {
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Keep what was not written, so that a later flush can try again.
      pending_.erase(0, done);
      fail(file_, "write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  pending_.clear();
  pending_records_ = 0;
}

}  // namespace rtseg::framework::reporting
