#!/usr/bin/env bash
# Configures and builds rtseg into build/ (or $RTSEG_BUILD_DIR). Usage: scripts/build.sh [BUILD_TYPE] (default Release)
set -euo pipefail
cd "$(dirname "$0")/.."
build_type="${1:-Release}"
build_dir="${RTSEG_BUILD_DIR:-build}"
jobs="${RTSEG_JOBS:-$(nproc)}"
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type"
cmake --build "$build_dir" -j "$jobs"
