#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace rtseg::framework::reporting {

struct TensorBoardWriterOptions {
  int flush_every_records = 100;     ///< hand buffered records to the OS after this many
  double flush_every_seconds = 10.0;  ///< ... or when the oldest unflushed record is this old
};

/// Writes a TensorBoard event file, events.out.tfevents.<unix seconds>.<hostname>, in a folder:
/// TFRecord framing (length, masked CRC-32C of the length, the record, its masked CRC-32C) around
/// hand-encoded tensorflow.Event messages. The first record is the file_version event.
///
/// Meant for one thread (the trainer's): calls append to a memory buffer, which goes to the file
/// every `flush_every_records` records, when a record finds the buffer older than
/// `flush_every_seconds`, on flush() and on destruction. A crash therefore loses at most those
/// buffered records; the file is fsynced on destruction. An existing file is never rewritten: a
/// second writer (a resumed run) in the same second gets a ".1", ".2", ... suffix.
/// Write failures throw sdk::Error naming the file (the destructor swallows them).
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::filesystem::path& folder, TensorBoardWriterOptions options = {});
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  /// The event file being written.
  const std::filesystem::path& file() const { return file_; }

  void add_scalar(std::string_view tag, double value, std::int64_t step);
  /// Several scalars at one step, in one event record.
  void add_scalars(const std::vector<std::pair<std::string, double>>& tagged_values, std::int64_t step);
  /// An image: uint8 (or floating point in [0, 1]) [H, W], [H, W, C] or [C, H, W] with C in
  /// {1, 3, 4} (alpha is dropped), on any device. PNG-encoded. Throws sdk::Error on other shapes.
  void add_image(std::string_view tag, const at::Tensor& image, std::int64_t step);
  /// Text (Markdown) for TensorBoard's text dashboard.
  void add_text(std::string_view tag, std::string_view text, std::int64_t step);

  /// Hands buffered records to the OS (no fsync).
  void flush();

 private:
  void write_event(const std::string& event);

  std::filesystem::path file_;
  TensorBoardWriterOptions options_;
  int fd_ = -1;
  std::string pending_;  ///< framed records not yet written
  int pending_records_ = 0;
  std::chrono::steady_clock::time_point oldest_pending_{};
};

}  // namespace rtseg::framework::reporting
