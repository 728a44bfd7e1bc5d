#include "rtseg/framework/reporting/progress.h"

#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace rtseg::framework::reporting {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  double now = 1000.0;
  ProgressBar::Clock function() {
    return [this] { return now; };
  }
};

ProgressSample sample(std::int64_t steps, double loss) {
  ProgressSample result;
  result.steps_done = steps;
  result.images_done = steps * 4;
  result.loss = loss;
  result.lr = 1e-4;
  result.memory_bytes = 3.2 * 1024 * 1024 * 1024;
  return result;
}

TEST(ProgressFormat, DurationsAndBytes) {
  EXPECT_EQ(format_duration(68), "1:08");
  EXPECT_EQ(format_duration(3723.4), "1:02:03");
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_bytes(3.2 * 1024 * 1024 * 1024), "3.2G");
  EXPECT_EQ(format_bytes(512.0 * 1024 * 1024), "512M");
  EXPECT_EQ(format_bytes(900.0 * 1024), "900K");
}

TEST(ProgressBar, RedrawsOneLineOnATerminalAtMostTenTimesASecond) {
  std::ostringstream out;
  FakeClock clock;
  ProgressOptions options;
  options.tty = true;
  options.bar_width = 10;
  ProgressBar bar(out, options, clock.function());
  bar.start_epoch(3, 50, 400);
  clock.now += 29.27;  // 120 steps at 4.1 it/s
  bar.update(sample(120, 2.31));
  EXPECT_EQ(out.str(),
            "\r\033[Kepoch 3/50 |###       | 120/400 4.1 it/s 16.4 img/s loss 2.31 lr 1.0e-04 mem 3.2G ETA 1:08");
  out.str("");
  clock.now += 0.05;
  bar.update(sample(121, 2.30));  // too soon after the last redraw
  EXPECT_EQ(out.str(), "");
  clock.now += 0.06;
  bar.update(sample(122, 2.29));
  EXPECT_EQ(out.str().rfind("\r\033[Kepoch 3/50 |###       | 122/400 ", 0), 0u) << out.str();
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
}

TEST(ProgressBar, CutsTheTerminalLineToTheGivenWidth) {
  std::ostringstream out;
  FakeClock clock;
  ProgressOptions options;
  options.tty = true;
  options.bar_width = 10;
  options.max_line_width = 31;
  ProgressBar bar(out, options, clock.function());
  bar.start_epoch(3, 50, 400);
  clock.now += 1;
  bar.update(sample(120, 2.31));
  EXPECT_EQ(out.str(), "\r\033[Kepoch 3/50 |###       | 120/40");  // 30 characters
}

TEST(ProgressBar, TheLastStepIsAlwaysDrawnAndTheEpochEndsWithASummary) {
  std::ostringstream out;
  FakeClock clock;
  ProgressOptions options;
  options.tty = true;
  options.bar_width = 4;
  ProgressBar bar(out, options, clock.function());
  bar.start_epoch(1, 3, 8);
  clock.now += 1;
  bar.update(sample(4, 1.5));
  clock.now += 0.01;
  bar.update(sample(8, 1.25));  // within the redraw interval, but the bar must reach the end
  EXPECT_NE(out.str().find("|####| 8/8 "), std::string::npos) << out.str();
  out.str("");
  clock.now += 0.99;
  bar.end_epoch();
  EXPECT_EQ(out.str(),
            "\r\033[Kepoch 1/3 done in 0:02: 8 steps 4.0 it/s 16.0 img/s loss 1.25 lr 1.0e-04 mem 3.2G, about 0:04 "
            "left\n");
}

TEST(ProgressBar, PrintsPlainLinesEveryNStepsOrMSecondsWithoutATerminal) {
  std::ostringstream out;
  FakeClock clock;
  ProgressOptions options;
  options.plain_every_steps = 10;
  options.plain_every_seconds = 60;
  ProgressBar bar(out, options, clock.function());
  bar.start_epoch(2, 2, 100);
  for (int step = 1; step <= 25; ++step) {
    clock.now += 0.5;
    bar.update(sample(step, 2.0));
  }
  EXPECT_EQ(out.str(),
            "epoch 2/2 step 10/100 2.0 it/s 8.0 img/s loss 2 lr 1.0e-04 mem 3.2G ETA 0:45\n"
            "epoch 2/2 step 20/100 2.0 it/s 8.0 img/s loss 2 lr 1.0e-04 mem 3.2G ETA 0:40\n");
  out.str("");
  clock.now += 61;  // a slow step: the time limit prints a line before the step count does
  bar.update(sample(26, 2.0));
  EXPECT_EQ(out.str().rfind("epoch 2/2 step 26/100 ", 0), 0u) << out.str();
  out.str("");
  bar.end_epoch();
  EXPECT_EQ(out.str().rfind("epoch 2/2 done in 1:14: 26 steps ", 0), 0u) << out.str();
  EXPECT_NE(out.str().find(", about 0:00 left\n"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(ProgressBar, ShowsUnknownRatesBeforeTheFirstStepAndHidesUnknownMemory) {
  std::ostringstream out;
  FakeClock clock;
  ProgressBar bar(out, ProgressOptions{}, clock.function());
  bar.start_epoch(1, 10, 5);
  ProgressSample nothing;
  bar.update(nothing);
  EXPECT_EQ(bar.status_line(), "epoch 1/10 step 0/5 ? it/s ? img/s loss 0 lr 0.0e+00 ETA ?");
  EXPECT_EQ(out.str(), "");  // not a terminal: nothing until the step or time limit
}

}  // namespace
}  // namespace rtseg::framework::reporting
