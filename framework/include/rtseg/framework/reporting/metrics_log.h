#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtseg::framework::reporting {

/// The numbers of one training step or one epoch, as the trainer reports them.
struct MetricsRow {
  std::int64_t epoch = 0;  ///< the epoch the numbers belong to (the numbering is the caller's)
  std::int64_t step = 0;   ///< global optimizer step
  double time = 0;         ///< seconds since training started (across resumes)
  /// Named values in display order: losses ("train/loss"), "lr/pg0", AP numbers
  /// ("metrics/mAP50-95(B)"), memory ("gpu_mem_gb"), ... Names must not contain ',', '"' or
  /// line breaks (they become CSV column names).
  std::vector<std::pair<std::string, double>> values;

  /// The value named `name`, if the row has it.
  std::optional<double> value(std::string_view name) const;
};

/// Where a resumed run continues: in `epoch` (numbered as the rows are), after optimizer step
/// `step` (counted over the whole run).
struct ResumePoint {
  std::int64_t epoch = 1;
  std::int64_t step = 0;
};

/// The run folder's metrics files:
/// - metrics.jsonl: one JSON object per line, {"kind": "step"|"epoch", "epoch", "step", "time",
///   <values>...}; append-only, each line handed to the OS as it is logged (non-finite values
///   are written as null);
/// - results.csv: one row per epoch (Ultralytics style), columns "epoch,time,<values>"; rewritten
///   atomically (temp file, fsync, rename) after each epoch. Columns keep their place once
///   written; a value name seen later adds a column at the end (empty in earlier rows).
///
/// A fresh run starts both files empty. Resuming from a checkpoint taken in epoch E after step S
/// keeps the epoch records and rows of epochs before E and the step records up to step S, and
/// appends after them (the run repeats what came after the checkpoint, so those records go).
/// Errors (unwritable folder, a bad value name) throw sdk::Error naming the file.
class MetricsLog {
 public:
  static constexpr const char* kJsonLinesName = "metrics.jsonl";
  static constexpr const char* kResultsCsvName = "results.csv";

  explicit MetricsLog(const std::filesystem::path& folder, std::optional<ResumePoint> resume = std::nullopt);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  /// A step record: one metrics.jsonl line.
  void log_step(const MetricsRow& row);
  /// An epoch record: a metrics.jsonl line and a results.csv row (replacing a row of the same
  /// epoch), then results.csv is rewritten.
  void log_epoch(const MetricsRow& row);

  /// The epoch rows so far (those kept from before a resume included), in epoch order.
  const std::vector<MetricsRow>& epoch_rows() const { return epoch_rows_; }
  /// results.csv's value columns (after "epoch,time").
  const std::vector<std::string>& columns() const { return columns_; }
  /// After a resume: the highest step of the records dropped (the run had got that far past its
  /// checkpoint), or 0 when none were.
  std::int64_t dropped_last_step() const { return dropped_last_step_; }

 private:
  void append_json_line(const MetricsRow& row, const char* kind);
  void write_results_csv() const;

  std::filesystem::path jsonl_file_;
  std::filesystem::path csv_file_;
  int jsonl_fd_ = -1;
  std::vector<std::string> columns_;
  std::vector<MetricsRow> epoch_rows_;
  std::int64_t dropped_last_step_ = 0;
};

}  // namespace rtseg::framework::reporting
