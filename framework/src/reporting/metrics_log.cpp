#include "rtseg/framework/reporting/metrics_log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::reporting {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw sdk::Error("cannot write " + file.string() + ": " + what);
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// Lines of metrics.jsonl from before the resume point: epoch records of earlier epochs, step
// records up to its step. A line that does not parse (the half-written last line of a crashed
// run) is dropped too. `dropped_step` gets the highest step of the records dropped.
std::string jsonl_lines_before(const std::filesystem::path& file, const ResumePoint& resume,
                               std::int64_t& dropped_step) {
  std::string kept;
  std::istringstream lines(read_text(file));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("epoch") || !record["epoch"].is_number_integer()) continue;
    const bool has_step = record.contains("step") && record["step"].is_number_integer();
    const std::int64_t step = has_step ? record["step"].get<std::int64_t>() : 0;
    const bool epoch_record = record.contains("kind") && record["kind"] == "epoch";
    if (epoch_record ? record["epoch"].get<std::int64_t>() < resume.epoch : step <= resume.step) {
      kept += line + "\n";
    } else {
      dropped_step = std::max(dropped_step, step);
    }
  }
  return kept;
}

// Parses results.csv (as write_results_csv writes it): its value columns and its rows.
void read_results_csv(const std::filesystem::path& file, std::int64_t resume_epoch,
                      std::vector<std::string>& columns, std::vector<MetricsRow>& rows) {
  std::istringstream lines(read_text(file));
  std::string header;
  if (!std::getline(lines, header)) return;
  const std::vector<std::string> names = split(header, ',');
  if (names.size() < 2 || names[0] != "epoch" || names[1] != "time") return;  // not ours: start over
  columns.assign(names.begin() + 2, names.end());
  for (std::string line; std::getline(lines, line);) {
    const std::vector<std::string> cells = split(line, ',');
    if (cells.size() != names.size() || cells[0].empty()) continue;
    MetricsRow row;
    row.epoch = std::strtoll(cells[0].c_str(), nullptr, 10);
    if (row.epoch >= resume_epoch) continue;
    row.time = std::strtod(cells[1].c_str(), nullptr);
    for (std::size_t i = 2; i < cells.size(); ++i) {
      if (!cells[i].empty()) row.values.emplace_back(names[i], std::strtod(cells[i].c_str(), nullptr));
    }
    rows.push_back(std::move(row));
  }
}

void check_value_names(const std::filesystem::path& file, const MetricsRow& row) {
  for (const auto& [name, value] : row.values) {
    if (name.empty() || name.find_first_of(",\"\r\n") != std::string::npos || name == "epoch" || name == "time")
      fail(file, "bad value name \"" + name + "\" (empty, reserved, or with ',', '\"' or a line break)");
  }
}

std::string format_number(double value, const char* format) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

std::optional<double> MetricsRow::value(std::string_view name) const {
  for (const auto& [key, number] : values) {
    if (key == name) return number;
  }
  return std::nullopt;
}

MetricsLog::MetricsLog(const std::filesystem::path& folder, std::optional<ResumePoint> resume)
    : jsonl_file_(folder / kJsonLinesName), csv_file_(folder / kResultsCsvName) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (resume) {
    sdk::write_file_atomically(jsonl_file_, jsonl_lines_before(jsonl_file_, *resume, dropped_last_step_));
    read_results_csv(csv_file_, resume->epoch, columns_, epoch_rows_);
    if (std::filesystem::exists(csv_file_)) write_results_csv();
  } else {
    sdk::write_file_atomically(jsonl_file_, "");
    std::filesystem::remove(csv_file_, error);
  }
  jsonl_fd_ = ::open(jsonl_file_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (jsonl_fd_ < 0) fail(jsonl_file_, std::string("cannot open for appending (") + std::strerror(errno) + ")");
}

MetricsLog::~MetricsLog() {
  ::fsync(jsonl_fd_);
  ::close(jsonl_fd_);
}

void MetricsLog::log_step(const MetricsRow& row) {
  check_value_names(jsonl_file_, row);
  append_json_line(row, "step");
}

void MetricsLog::log_epoch(const MetricsRow& row) {
  check_value_names(csv_file_, row);
  append_json_line(row, "epoch");
  for (const auto& [name, value] : row.values) {
    if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) columns_.push_back(name);
  }
  const auto later = std::find_if(epoch_rows_.begin(), epoch_rows_.end(),
                                  [&](const MetricsRow& kept) { return kept.epoch >= row.epoch; });
  if (later != epoch_rows_.end() && later->epoch == row.epoch) {
    *later = row;
  } else {
    epoch_rows_.insert(later, row);
  }
  write_results_csv();
}

void MetricsLog::append_json_line(const MetricsRow& row, const char* kind) {
  nlohmann::ordered_json record;
  record["kind"] = kind;
  record["epoch"] = row.epoch;
  record["step"] = row.step;
  record["time"] = row.time;
  for (const auto& [name, value] : row.values) {
    record[name] = std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
  }
  const std::string line = record.dump() + "\n";
  // One write() per line: with O_APPEND the line lands whole, even next to another writer.
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(jsonl_fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(jsonl_file_, std::string("write failed (") + std::strerror(errno) + ")");
    done += static_cast<std::size_t>(n);
  }
}

void MetricsLog::write_results_csv() const {
  std::string text = "epoch,time";
  for (const std::string& column : columns_) text += "," + column;
  text += "\n";
  for (const MetricsRow& row : epoch_rows_) {
    text += std::to_string(row.epoch) + "," + format_number(row.time, "%.3f");
    for (const std::string& column : columns_) {
      const std::optional<double> value = row.value(column);
      text += "," + (value ? format_number(*value, "%.6g") : std::string());
    }
    text += "\n";
  }
  sdk::write_file_atomically(csv_file_, text);
}

}  // namespace rtseg::framework::reporting
