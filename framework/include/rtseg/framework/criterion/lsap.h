#pragma once

#include <cstdint>
#include <vector>

namespace rtseg::framework::criterion {

/// A minimum-cost assignment: rows[k] is assigned to cols[k]. There are min(rows, cols) pairs,
/// sorted by row index (scipy.optimize.linear_sum_assignment's output convention).
struct Assignment {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> cols;
};

/// Rectangular linear sum assignment (minimisation), solved in double precision with the
/// shortest augmenting path method (Crouse 2016) that scipy uses, making the same choices among
/// equal candidates, so that ties resolve as scipy resolves them.
///
/// `cost` is row-major with `row_stride` elements between rows (>= cols). +inf marks a
/// forbidden pair. Throws std::invalid_argument when an entry is NaN or -inf, or when no
/// complete assignment of finite cost exists.
Assignment solve_linear_sum_assignment(const double* cost, std::int64_t rows, std::int64_t cols,
                                       std::int64_t row_stride);
Assignment solve_linear_sum_assignment(const float* cost, std::int64_t rows, std::int64_t cols,
                                       std::int64_t row_stride);

/// Contiguous convenience form.
inline Assignment solve_linear_sum_assignment(const std::vector<double>& cost, std::int64_t rows,
                                              std::int64_t cols) {
  return solve_linear_sum_assignment(cost.data(), rows, cols, cols);
}

}  // namespace rtseg::framework::criterion
