#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under AddressSanitizer and UndefinedBehaviorSanitizer
# into build-fuzz/ and runs each for a bounded time, starting from its seed corpus in
# tests/fuzz/corpus/<target>. New inputs go to build-fuzz/corpus/<target>; a crash leaves its
# input in build-fuzz/crashes/ and makes the script fail.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]
# Targets: rle jpeg png coco_json pth yolo_label data_yaml recipe_toml safetensors (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(rle jpeg png coco_json pth yolo_label data_yaml recipe_toml safetensors); fi

scripts/install-deps.sh clang libclang-rt-14-dev
build=build-fuzz
# Everything the fuzzers link is instrumented (fuzzer-no-link) and sanitized, not only their main.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$sanitize" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DRTSEG_FUZZ=ON >/dev/null
ninja -C "$build" -j "$(nproc)" "${targets[@]/%/_fuzzer}"

mkdir -p "$build/crashes"
# LibTorch's own allocations are not ours to check for leaks.
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
status=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/bin/${target}_fuzzer" "$corpus" "tests/fuzz/corpus/$target" \
      -max_total_time="$seconds" -artifact_prefix="$build/crashes/${target}-" -print_final_stats=1 \
      2>"$build/${target}.log"; then
    echo "fuzz: $target FAILED, see $build/${target}.log and $build/crashes/" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/${target}.log" | sed "s/^/  /"
  fi
done
exit $status
