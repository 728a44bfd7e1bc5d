#!/usr/bin/python3
"""Solves cost matrices with scipy.optimize.linear_sum_assignment for the C++ LSAP tests.

Input (file given as argv[1]): the number of matrices, then per matrix a line "rows cols"
followed by rows lines of cols numbers ('inf' allowed). Output: one line per matrix,
"row indices;column indices" (space separated), or "error: <message>" when scipy refuses it.
Exit code 3 when scipy is not installed, so the test can skip.
"""
import sys

try:
    import numpy as np
    from scipy.optimize import linear_sum_assignment
except ImportError as error:
    print(f"scipy unavailable: {error}", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    tokens = open(sys.argv[1]).read().split()
    pos = 0

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    out = []
    for _ in range(int(take())):
        rows, cols = int(take()), int(take())
        values = [float(take()) for _ in range(rows * cols)]
        cost = np.array(values, dtype=np.float64).reshape(rows, cols)
        try:
            r, c = linear_sum_assignment(cost)
            out.append(" ".join(map(str, r)) + ";" + " ".join(map(str, c)))
        except ValueError as error:
            out.append(f"error: {error}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
