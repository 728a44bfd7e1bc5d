#!/usr/bin/env bash
# Installs dependencies, builds rtseg into build/ and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh Release
cd "${RTSEG_BUILD_DIR:-build}"
ctest --output-on-failure -j "${RTSEG_TEST_JOBS:-$(nproc)}" --timeout 1500
