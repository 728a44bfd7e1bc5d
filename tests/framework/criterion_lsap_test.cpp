// The rectangular LSAP solver: hand-made problems (always), and scipy's
// linear_sum_assignment on many random matrices (when /usr/bin/python3 has scipy).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/criterion/lsap.h"
#include "test_support.h"

namespace rtseg::framework::criterion {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Problem {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> cost;
};

double total_cost(const Problem& p, const Assignment& a) {
  double sum = 0;
  for (std::size_t k = 0; k < a.rows.size(); ++k) sum += p.cost[a.rows[k] * p.cols + a.cols[k]];
  return sum;
}

// Exhaustive minimum over all assignments of min(rows, cols) pairs (small problems only).
double brute_force_minimum(const Problem& p) {
  const bool wide = p.rows <= p.cols;
  const std::int64_t small = wide ? p.rows : p.cols, large = wide ? p.cols : p.rows;
  std::vector<std::int64_t> perm(large);
  for (std::int64_t i = 0; i < large; ++i) perm[i] = i;
  double best = kInf;
  do {
    double sum = 0;
    for (std::int64_t i = 0; i < small; ++i) {
      sum += wide ? p.cost[i * p.cols + perm[i]] : p.cost[perm[i] * p.cols + i];
    }
    best = std::min(best, sum);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

void expect_valid(const Problem& p, const Assignment& a) {
  ASSERT_EQ(a.rows.size(), static_cast<std::size_t>(std::min(p.rows, p.cols)));
  ASSERT_EQ(a.cols.size(), a.rows.size());
  std::vector<bool> row_used(p.rows), col_used(p.cols);
  for (std::size_t k = 0; k < a.rows.size(); ++k) {
    if (k > 0) {
      EXPECT_LT(a.rows[k - 1], a.rows[k]) << "rows must be sorted";
    }
    ASSERT_GE(a.cols[k], 0);
    ASSERT_LT(a.cols[k], p.cols);
    EXPECT_FALSE(row_used[a.rows[k]]);
    EXPECT_FALSE(col_used[a.cols[k]]);
    row_used[a.rows[k]] = col_used[a.cols[k]] = true;
  }
}

TEST(Lsap, SquareHandMadeProblem) {
  // The optimum 0->1, 1->0, 2->2 costs 1 + 2 + 2 = 5 (scipy's documentation example).
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const Assignment a = solve_linear_sum_assignment(cost, 3, 3);
  EXPECT_THAT(a.rows, ElementsAre(0, 1, 2));
  EXPECT_THAT(a.cols, ElementsAre(1, 0, 2));
}

TEST(Lsap, WideMatrixAssignsEveryRow) {
  // 2 targets x 4 queries: row 0 is cheapest at column 3, row 1 at column 3 too but column 1 is
  // only slightly worse, so row 0 takes 3 and row 1 takes 1.
  const std::vector<double> cost = {9, 9, 9, 1, 9, 2, 9, 1.5};
  const Assignment a = solve_linear_sum_assignment(cost, 2, 4);
  EXPECT_THAT(a.rows, ElementsAre(0, 1));
  EXPECT_THAT(a.cols, ElementsAre(3, 1));
}

TEST(Lsap, TallMatrixIsSolvedTransposedAndSortedByRow) {
  // 4 queries x 2 targets (the matcher's orientation): queries 3 and 1 win.
  const std::vector<double> cost = {9, 9, 9, 2, 9, 9, 1, 1.5};
  const Assignment a = solve_linear_sum_assignment(cost, 4, 2);
  EXPECT_THAT(a.rows, ElementsAre(1, 3));
  EXPECT_THAT(a.cols, ElementsAre(1, 0));
}

TEST(Lsap, ConstantMatrixGivesTheIdentity) {
  const std::vector<double> cost(16, 7.0);
  const Assignment a = solve_linear_sum_assignment(cost, 4, 4);
  EXPECT_THAT(a.cols, ElementsAre(0, 1, 2, 3));
}

TEST(Lsap, RowStrideSkipsPaddingColumns) {
  // A 2 x 2 problem stored with 3 columns per row; the padding column holds NaN, never read.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> cost = {5, 1, nan, 1, 5, nan};
  const Assignment a = solve_linear_sum_assignment(cost.data(), 2, 2, 3);
  EXPECT_THAT(a.cols, ElementsAre(1, 0));
}

TEST(Lsap, InfinityForbidsAPair) {
  const std::vector<double> cost = {kInf, 1, 1, 100};
  const Assignment a = solve_linear_sum_assignment(cost, 2, 2);
  EXPECT_THAT(a.cols, ElementsAre(1, 0));
}

TEST(Lsap, EmptyProblems) {
  EXPECT_TRUE(solve_linear_sum_assignment(std::vector<double>{}, 0, 5).rows.empty());
  EXPECT_TRUE(solve_linear_sum_assignment(std::vector<double>{}, 5, 0).rows.empty());
}

TEST(Lsap, RejectsNanMinusInfinityAndInfeasibleMatrices) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT([&] { solve_linear_sum_assignment(std::vector<double>{1, nan}, 1, 2); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("NaN or -inf")));
  EXPECT_THAT([&] { solve_linear_sum_assignment(std::vector<double>{1, -kInf}, 2, 1); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("NaN or -inf")));
  EXPECT_THAT([&] { solve_linear_sum_assignment(std::vector<double>{kInf, kInf, 1, 2}, 2, 2); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("infeasible")));
}

TEST(Lsap, MatchesBruteForceOnSmallRandomProblems) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    Problem p;
    p.rows = 1 + static_cast<std::int64_t>(rng() % 6);
    p.cols = 1 + static_cast<std::int64_t>(rng() % 6);
    const bool integer = trial % 2 == 0;  // many ties
    for (std::int64_t i = 0; i < p.rows * p.cols; ++i) {
      p.cost.push_back(integer ? static_cast<double>(rng() % 4)
                               : std::uniform_real_distribution<double>(-5, 5)(rng));
    }
    const Assignment a = solve_linear_sum_assignment(p.cost, p.rows, p.cols);
    expect_valid(p, a);
    EXPECT_NEAR(total_cost(p, a), brute_force_minimum(p), 1e-9) << "trial " << trial;
  }
}

// ---- scipy cross-check ----------------------------------------------------------------------

std::vector<Problem> random_problems() {
  std::mt19937_64 rng(2024);
  std::vector<Problem> problems;
  auto add = [&](std::int64_t rows, std::int64_t cols, auto&& value) {
    Problem p{rows, cols, {}};
    for (std::int64_t i = 0; i < rows * cols; ++i) p.cost.push_back(value());
    problems.push_back(std::move(p));
  };
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 120; ++i) {
    const std::int64_t rows = 1 + static_cast<std::int64_t>(rng() % 40);
    const std::int64_t cols = 1 + static_cast<std::int64_t>(rng() % 40);
    switch (i % 6) {
      case 0: add(rows, cols, [&] { return unit(rng); }); break;                       // floats
      case 1: add(rows, rows, [&] { return unit(rng) * 10 - 5; }); break;             // square
      case 2: add(rows, cols, [&] { return static_cast<double>(rng() % 3); }); break; // ties
      case 3: add(rows, rows, [&] { return static_cast<double>(rng() % 5); }); break; // ties
      case 4: add(rows, cols, [&] { return unit(rng) * 1e12; }); break;               // large
      case 5:  // the matcher's shape: many queries, few objects, float32 values
        add(20 + rows * 7, 1 + static_cast<std::int64_t>(rng() % 8),
            [&] { return static_cast<double>(static_cast<float>(unit(rng) * 20 - 3)); });
        break;
    }
  }
  // Forbidden pairs that keep the problem feasible: +inf off the diagonal only.
  Problem sparse{6, 9, {}};
  for (std::int64_t i = 0; i < 6; ++i) {
    for (std::int64_t j = 0; j < 9; ++j) sparse.cost.push_back(i == j || rng() % 3 ? unit(rng) : kInf);
  }
  problems.push_back(sparse);
  return problems;
}

struct ScipyAnswer {
  bool ok = false;
  std::vector<std::int64_t> rows, cols;
};

std::vector<std::int64_t> parse_indices(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::int64_t> values;
  for (std::int64_t v; in >> v;) values.push_back(v);
  return values;
}

TEST(Lsap, AgreesWithScipy) {
  const char* python = "/usr/bin/python3";
  const std::string script = std::string(RTSEG_SOURCE_DIR) + "/tests/framework/lsap_reference.py";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << python << " not found: scipy cross-check skipped";

  const std::vector<Problem> problems = random_problems();
  rtseg::testing::TempDir dir;
  {
    std::ofstream out(dir / "problems.txt");
    out << problems.size() << "\n";
    char buffer[40];
    for (const Problem& p : problems) {
      out << p.rows << " " << p.cols << "\n";
      for (const double v : p.cost) {
        std::snprintf(buffer, sizeof buffer, "%.17g ", v);  // round-trips exactly
        out << buffer;
      }
      out << "\n";
    }
  }
  const auto result = rtseg::testing::run(std::string(python) + " " + script + " " +
                                          (dir / "problems.txt").string());
  if (result.exit_code == 3) GTEST_SKIP() << "scipy cross-check skipped: " << result.err;
  ASSERT_EQ(result.exit_code, 0) << result.err;

  std::istringstream lines(result.out);
  std::size_t identical = 0;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << "scipy answered " << i << " of " << problems.size();
    ASSERT_EQ(line.rfind("error", 0), std::string::npos) << "problem " << i << ": " << line;
    const auto split = line.find(';');
    Assignment scipy{parse_indices(line.substr(0, split)), parse_indices(line.substr(split + 1))};
    const Problem& p = problems[i];
    const Assignment ours = solve_linear_sum_assignment(p.cost, p.rows, p.cols);
    expect_valid(p, ours);
    // Summed in the same order from the same matrix: equal optima compare exactly.
    EXPECT_EQ(total_cost(p, ours), total_cost(p, scipy)) << "problem " << i;
    const bool ties = i % 6 == 2 || i % 6 == 3;
    if (!ties) {  // real-valued costs: the optimum is unique
      EXPECT_EQ(ours.rows, scipy.rows) << "problem " << i;
      EXPECT_EQ(ours.cols, scipy.cols) << "problem " << i;
    }
    identical += ours.rows == scipy.rows && ours.cols == scipy.cols;
  }
  // Same algorithm, same choices: even tied problems resolve as scipy 1.x resolves them.
  RecordProperty("identical_assignments", std::to_string(identical) + "/" + std::to_string(problems.size()));
  EXPECT_EQ(identical, problems.size());
}

}  // namespace
}  // namespace rtseg::framework::criterion
