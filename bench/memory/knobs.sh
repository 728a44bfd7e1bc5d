#!/bin/bash
# The seed's memory knobs, measured: peak memory (and step time) of real training steps of the
# single-stage segmentation recipe for each knob, one at a time, against a baseline. Prints a
# Markdown table (the one in docs/memory.md) and writes the raw cases as JSON.
#
#   bash bench/memory/knobs.sh [--device cuda] [--size nano] [--resolution 384] [--out knobs.json]
#
# On the CPU the peak is the process's resident set; on a GPU the caching allocator's peak
# allocated bytes. Defaults: CPU, nano, 192 px (a CPU step at 384 takes tens of seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."
device=cpu size=nano resolution=192 out=knobs.json
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --resolution) resolution=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bench="${RTSEG_BENCH:-build/bin/rtseg_bench_train_step} --device $device --size $size --steps 2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small=$(( resolution * 3 / 4 / 32 * 32 ))

run() {  # name, then bench arguments (--warmup N to warm up longer than one step)
  local name=$1; shift
  local warmup=1
  if [ "$1" = --warmup ]; then warmup=$2; shift 2; fi
  $bench --warmup "$warmup" "$@" --json "$tmp/$name.json" > /dev/null
}
run baseline --batch 1 --resolution "$resolution"
run batch2 --batch 2 --resolution "$resolution"
run batch4 --batch 4 --resolution "$resolution"
run resolution_small --batch 1 --resolution "$small"
run checkpointing --batch 2 --resolution "$resolution" --checkpointing
run queries100 --batch 1 --resolution "$resolution" --set model.num_queries=100 --set model.num_select=100
run detector --batch 1 --resolution "$resolution" --recipe recipes/pipelines/detector_stage1.toml
run stage2 --batch 1 --resolution "$resolution" --recipe recipes/pipelines/seg_stage2.toml
# fp16's loss scaling skips the first steps (scale 65536 overflows) until the scale settles, and a
# skipped step allocates no AdamW state: warm up past them, or the peak misses the moments.
if [ "$device" != cpu ]; then run fp16 --warmup 12 --batch 1 --resolution "$resolution" --amp fp16; fi
if [ "$device" != cpu ]; then run amp_off --batch 1 --resolution "$resolution" --amp off; fi

python3 - "$tmp" "$out" "$size" "$device" <<'PY'
import glob, json, os, sys
tmp, out, size, device = sys.argv[1:]
cases = {}
for path in sorted(glob.glob(os.path.join(tmp, "*.json"))):
    cases[os.path.basename(path)[:-5]] = json.load(open(path))["cases"][0]
json.dump(cases, open(out, "w"), indent=1)
labels = {
    "baseline": "baseline: batch 1", "batch2": "--batch 2", "batch4": "--batch 4",
    "resolution_small": "--resolution (3/4)", "checkpointing": "--batch 2 --gradient_checkpointing",
    "queries100": "--num_queries 100", "detector": "detector only (stage 1)",
    "stage2": "stage 2 (frozen detector)", "fp16": "--amp fp16", "amp_off": "--amp off",
}
base = cases["baseline"]["peak"]["allocated_gib"]
print(f"{size} on {device}, {cases['baseline']['resolution']} px unless stated\n")
print("| knob | peak GiB | vs baseline | step ms |")
print("|---|---|---|---|")
for name, label in labels.items():
    if name not in cases or "peak" not in cases[name]:
        continue
    c = cases[name]
    peak = c["peak"]["allocated_gib"]
    extra = f" ({c['resolution']} px)" if name == "resolution_small" else ""
    print(f"| {label}{extra} | {peak:.2f} | {peak - base:+.2f} | {c['step_ms']:.0f} |")
PY
