#include "rtseg/framework/reporting/metrics_log.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::framework::reporting {
namespace {

std::string read(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

MetricsRow row(std::int64_t epoch, std::vector<std::pair<std::string, double>> values) {
  MetricsRow result;
  result.epoch = epoch;
  result.step = epoch * 100;
  result.time = 10.5 * static_cast<double>(epoch);
  result.values = std::move(values);
  return result;
}

TEST(MetricsLog, WritesJsonLinesAndAResultsTable) {
  testing::TempDir dir;
  {
    MetricsLog log(dir / "run");
    log.log_step(row(1, {{"train/loss", 3.5}, {"lr/pg0", 1e-4}}));
    log.log_epoch(row(1, {{"train/loss", 3.25}, {"metrics/mAP50(B)", 0.125}}));
    log.log_epoch(row(2, {{"train/loss", 2.5}, {"metrics/mAP50(B)", 0.25}}));
    EXPECT_EQ(log.epoch_rows().size(), 2u);
    EXPECT_EQ(log.columns(), (std::vector<std::string>{"train/loss", "metrics/mAP50(B)"}));
  }
  EXPECT_EQ(read(dir / "run/results.csv"),
            "epoch,time,train/loss,metrics/mAP50(B)\n"
            "1,10.500,3.25,0.125\n"
            "2,21.000,2.5,0.25\n");
  std::istringstream lines(read(dir / "run/metrics.jsonl"));
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["kind"], "step");
  EXPECT_EQ(records[0]["epoch"], 1);
  EXPECT_EQ(records[0]["step"], 100);
  EXPECT_EQ(records[0]["lr/pg0"].get<double>(), 1e-4);  // full precision in JSON
  EXPECT_EQ(records[1]["kind"], "epoch");
  EXPECT_EQ(records[2]["metrics/mAP50(B)"].get<double>(), 0.25);
  EXPECT_EQ(records[2]["time"].get<double>(), 21.0);
}

TEST(MetricsLog, KeepsColumnsInPlaceAndAddsNewOnesAtTheEnd) {
  testing::TempDir dir;
  MetricsLog log(dir.path());
  log.log_epoch(row(1, {{"b", 1}, {"a", 2}}));
  log.log_epoch(row(2, {{"c", 3}, {"a", 4}}));  // "b" missing, "c" new, "a" out of order
  log.log_epoch(row(3, {{"a", std::numeric_limits<double>::quiet_NaN()}}));
  EXPECT_EQ(read(dir / "results.csv"),
            "epoch,time,b,a,c\n"
            "1,10.500,1,2,\n"
            "2,21.000,,4,3\n"
            "3,31.500,,nan,\n");
  EXPECT_NE(read(dir / "metrics.jsonl").find("\"a\":null"), std::string::npos);  // JSON has no NaN
}

TEST(MetricsLog, ResumingKeepsEarlierEpochsAndAppends) {
  testing::TempDir dir;
  {
    MetricsLog log(dir.path());
    for (int epoch = 1; epoch <= 3; ++epoch) {
      log.log_step(row(epoch, {{"train/loss", 4.0 - epoch}}));
      log.log_epoch(row(epoch, {{"train/loss", 4.0 - epoch}, {"metrics/mAP50(B)", 0.1 * epoch}}));
    }
    log.log_step(row(4, {{"train/loss", 0.5}}));  // epoch 4 interrupted
  }
  {
    std::ofstream(dir / "metrics.jsonl", std::ios::app) << "{\"kind\":\"step\",\"epo";  // crash mid-line
  }
  {
    MetricsLog log(dir.path(), ResumePoint{3, 200});  // the last checkpoint is from the end of epoch 2
    EXPECT_EQ(log.dropped_last_step(), 400);           // the run had got to step 400
    ASSERT_EQ(log.epoch_rows().size(), 2u);
    EXPECT_EQ(log.epoch_rows()[1].epoch, 2);
    EXPECT_NEAR(*log.epoch_rows()[1].value("metrics/mAP50(B)"), 0.2, 1e-9);
    EXPECT_EQ(read(dir / "results.csv"),
              "epoch,time,train/loss,metrics/mAP50(B)\n"
              "1,10.500,3,0.1\n"
              "2,21.000,2,0.2\n");
    log.log_epoch(row(3, {{"train/loss", 0.75}, {"gpu_mem_gb", 3.5}}));
  }
  EXPECT_EQ(read(dir / "results.csv"),
            "epoch,time,train/loss,metrics/mAP50(B),gpu_mem_gb\n"
            "1,10.500,3,0.1,\n"
            "2,21.000,2,0.2,\n"
            "3,31.500,0.75,,3.5\n");
  std::istringstream lines(read(dir / "metrics.jsonl"));
  std::vector<std::string> epochs_and_kinds;
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line);  // every line parses: the broken one is gone
    epochs_and_kinds.push_back(std::to_string(record["epoch"].get<int>()) + record["kind"].get<std::string>());
  }
  EXPECT_EQ(epochs_and_kinds,
            (std::vector<std::string>{"1step", "1epoch", "2step", "2epoch", "3epoch"}));
}

// A checkpoint within epoch 2 (after step 150): the steps up to it stay, epoch 2's later steps go,
// and epoch 1's row -- the last completed epoch -- stays in both files.
TEST(MetricsLog, ResumingMidEpochKeepsTheStepsBeforeTheCheckpoint) {
  testing::TempDir dir;
  {
    MetricsLog log(dir.path());
    log.log_step(row(1, {{"train/loss", 3}}));
    log.log_epoch(row(1, {{"train/loss", 3}}));
    for (const std::int64_t step : {140, 150, 160}) {
      MetricsRow record = row(2, {{"train/loss", 2}});
      record.step = step;
      log.log_step(record);
    }
  }
  MetricsLog log(dir.path(), ResumePoint{2, 150});
  EXPECT_EQ(log.dropped_last_step(), 160);
  ASSERT_EQ(log.epoch_rows().size(), 1u);
  EXPECT_EQ(read(dir / "results.csv"), "epoch,time,train/loss\n1,10.500,3\n");
  std::istringstream lines(read(dir / "metrics.jsonl"));
  std::vector<std::int64_t> steps;
  for (std::string line; std::getline(lines, line);) {
    steps.push_back(nlohmann::json::parse(line)["step"].get<std::int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<std::int64_t>{100, 100, 140, 150}));
}

TEST(MetricsLog, AFreshRunStartsEmptyAndARepeatedEpochReplacesItsRow) {
  testing::TempDir dir;
  dir.write("metrics.jsonl", "{\"kind\":\"epoch\",\"epoch\":9}\n");
  dir.write("results.csv", "epoch,time,x\n9,1.0,2\n");
  MetricsLog log(dir.path());
  EXPECT_EQ(read(dir / "metrics.jsonl"), "");
  EXPECT_FALSE(std::filesystem::exists(dir / "results.csv"));
  log.log_epoch(row(1, {{"x", 1}}));
  log.log_epoch(row(1, {{"x", 5}}));
  EXPECT_EQ(read(dir / "results.csv"), "epoch,time,x\n1,10.500,5\n");
}

TEST(MetricsLog, RejectsValueNamesThatWouldBreakTheTable) {
  testing::TempDir dir;
  MetricsLog log(dir.path());
  for (const char* name : {"a,b", "say \"hi\"", "two\nlines", "", "epoch"}) {
    try {
      log.log_epoch(row(1, {{name, 1}}));
      ADD_FAILURE() << "accepted \"" << name << "\"";
    } catch (const sdk::Error& error) {
      EXPECT_NE(std::string(error.what()).find("bad value name"), std::string::npos) << error.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "results.csv"));
}

}  // namespace
}  // namespace rtseg::framework::reporting
