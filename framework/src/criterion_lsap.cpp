#include "rtseg/framework/criterion/lsap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace rtseg::framework::criterion {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr std::int64_t kNone = -1;

// The problem in "wide" orientation (rows <= cols), with potentials and the partial matching.
// Each solve() call adds one row to the matching along a shortest augmenting path in the
// reduced costs c[i][j] - u[i] - v[j] (Dijkstra over alternating paths).
class ShortestPathSolver {
 public:
  ShortestPathSolver(std::vector<double> cost, std::int64_t rows, std::int64_t cols)
      : cost_(std::move(cost)),
        rows_(rows),
        cols_(cols),
        u_(rows, 0.0),
        v_(cols, 0.0),
        distance_(cols),
        previous_row_(cols, kNone),
        col_of_row_(rows, kNone),
        row_of_col_(cols, kNone),
        unvisited_cols_(cols) {}

  // Returns false when the row cannot be matched at finite cost.
  bool add_row(std::int64_t start_row) {
    double path_length = 0.0;
    const std::int64_t sink = find_augmenting_path(start_row, path_length);
    if (sink == kNone) return false;
    update_potentials(start_row, path_length);
    augment(start_row, sink);
    return true;
  }

  const std::vector<std::int64_t>& col_of_row() const { return col_of_row_; }

 private:
  std::int64_t find_augmenting_path(std::int64_t row, double& path_length) {
    // Columns are scanned from the last to the first (scipy's order: a constant matrix then
    // gives the identity assignment); a visited column is swapped out with the last unvisited.
    for (std::int64_t k = 0; k < cols_; ++k) unvisited_cols_[k] = cols_ - 1 - k;
    num_unvisited_ = cols_;
    std::fill(distance_.begin(), distance_.end(), kInfinity);
    visited_rows_.clear();

    double reached = 0.0;
    while (true) {
      visited_rows_.push_back(row);
      const double* cost_row = cost_.data() + row * cols_;
      std::int64_t best = kNone;
      double lowest = kInfinity;
      for (std::int64_t k = 0; k < num_unvisited_; ++k) {
        const std::int64_t col = unvisited_cols_[k];
        const double reduced = reached + cost_row[col] - u_[row] - v_[col];
        if (reduced < distance_[col]) {
          previous_row_[col] = row;
          distance_[col] = reduced;
        }
        // Among equally short columns prefer a free one: it ends the search at once, which
        // matters for integer costs with many ties.
        if (distance_[col] < lowest || (distance_[col] == lowest && row_of_col_[col] == kNone)) {
          lowest = distance_[col];
          best = k;
        }
      }
      reached = lowest;
      if (reached == kInfinity) return kNone;
      const std::int64_t col = unvisited_cols_[best];
      unvisited_cols_[best] = unvisited_cols_[--num_unvisited_];
      unvisited_cols_[num_unvisited_] = col;  // visited columns collect at the tail
      if (row_of_col_[col] == kNone) {
        path_length = reached;
        return col;
      }
      row = row_of_col_[col];
    }
  }

  void update_potentials(std::int64_t start_row, double path_length) {
    u_[start_row] += path_length;
    for (const std::int64_t row : visited_rows_) {
      if (row != start_row) u_[row] += path_length - distance_[col_of_row_[row]];
    }
    for (std::int64_t k = num_unvisited_; k < cols_; ++k) {
      const std::int64_t col = unvisited_cols_[k];
      v_[col] -= path_length - distance_[col];
    }
  }

  // Flips the matched and unmatched edges along the path that ends in the free column `sink`.
  void augment(std::int64_t start_row, std::int64_t sink) {
    std::int64_t col = sink;
    while (true) {
      const std::int64_t row = previous_row_[col];
      row_of_col_[col] = row;
      std::swap(col_of_row_[row], col);
      if (row == start_row) break;
    }
  }

  std::vector<double> cost_;
  std::int64_t rows_, cols_;
  std::vector<double> u_, v_, distance_;
  std::vector<std::int64_t> previous_row_, col_of_row_, row_of_col_;
  std::vector<std::int64_t> unvisited_cols_, visited_rows_;
  std::int64_t num_unvisited_ = 0;
};

template <typename T>
Assignment solve(const T* cost, std::int64_t rows, std::int64_t cols, std::int64_t row_stride) {
  if (rows < 0 || cols < 0 || row_stride < cols) {
    throw std::invalid_argument("linear_sum_assignment: bad shape " + std::to_string(rows) + "x" +
                                std::to_string(cols) + " (row stride " +
                                std::to_string(row_stride) + ")");
  }
  Assignment result;
  if (rows == 0 || cols == 0) return result;

  // Tall matrices are solved transposed: every row of the working matrix gets a column.
  const bool transposed = rows > cols;
  const std::int64_t work_rows = transposed ? cols : rows;
  const std::int64_t work_cols = transposed ? rows : cols;
  std::vector<double> work(static_cast<std::size_t>(work_rows * work_cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const double value = static_cast<double>(cost[i * row_stride + j]);
      if (std::isnan(value) || value == -kInfinity) {
        throw std::invalid_argument(
            "linear_sum_assignment: the cost matrix contains NaN or -inf (row " +
            std::to_string(i) + ", column " + std::to_string(j) + ")");
      }
      work[transposed ? j * work_cols + i : i * work_cols + j] = value;
    }
  }

  ShortestPathSolver solver(std::move(work), work_rows, work_cols);
  for (std::int64_t row = 0; row < work_rows; ++row) {
    if (!solver.add_row(row)) {
      throw std::invalid_argument("linear_sum_assignment: the cost matrix is infeasible");
    }
  }

  const std::vector<std::int64_t>& matched = solver.col_of_row();
  result.rows.resize(work_rows);
  result.cols.resize(work_rows);
  if (!transposed) {
    std::iota(result.rows.begin(), result.rows.end(), 0);
    std::copy(matched.begin(), matched.end(), result.cols.begin());
    return result;
  }
  // Working rows are the original columns; report the pairs sorted by original row.
  std::vector<std::int64_t> order(work_rows);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::int64_t a, std::int64_t b) { return matched[a] < matched[b]; });
  for (std::int64_t k = 0; k < work_rows; ++k) {
    result.rows[k] = matched[order[k]];
    result.cols[k] = order[k];
  }
  return result;
}

}  // namespace

Assignment solve_linear_sum_assignment(const double* cost, std::int64_t rows, std::int64_t cols,
                                       std::int64_t row_stride) {
  return solve(cost, rows, cols, row_stride);
}

Assignment solve_linear_sum_assignment(const float* cost, std::int64_t rows, std::int64_t cols,
                                       std::int64_t row_stride) {
  return solve(cost, rows, cols, row_stride);
}

}  // namespace rtseg::framework::criterion
