#!/bin/bash
# Step time of data-parallel training with 1 and 2 ranks on this machine (c10d Gloo over
# loopback), and the communication time per step, from the runs' metrics:
#
#   bash bench/distributed/run.sh [STEPS] [RECIPE] [THREADS_PER_RANK]
#
# Defaults: 40 steps of each of the quickstart's two stages, 1 thread per rank. The per-rank batch
# stays the same, so 2 ranks train twice the images per step. Two ranks run twice: with the
# gradient all-reduce overlapping backward (the default) and with RTSEG_DIST_OVERLAP=0 (the
# buckets averaged after backward), so the two can be compared on the same build.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-40}
recipe=${2:-recipes/quickstart.toml}
threads=${3:-1}
rtseg=${RTSEG_BIN:-build/bin/rtseg}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for setup in 1 2 2-after-backward; do
  ranks=${setup%%-*}
  overlap=1
  [[ $setup == *after-backward ]] && overlap=0
  start=$(date +%s.%N)
  RTSEG_DIST_OVERLAP=$overlap "$rtseg" --log-level warn train --recipe "$recipe" --nproc "$ranks" --epochs 1 \
    --max_steps "$steps" --threads "$threads" --output_dir "$work/$setup" > /dev/null 2>&1
  end=$(date +%s.%N)
  python3 - "$work/$setup" "$setup" "$steps" "$start" "$end" <<'PY'
import glob, json, sys
folder, setup, steps, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
comm = []
for run in sorted(glob.glob(folder + "/*/metrics.jsonl")):
    rows = [json.loads(line) for line in open(run)]
    comm += [f"{run.split('/')[-2]} {r['time/communication_ms_per_step']:.1f}" for r in rows
             if "time/communication_ms_per_step" in r]
ranks = setup.split("-")[0]
label = f"{ranks} rank(s)" + (" (gradients averaged after backward)" if "after" in setup else
                             " (all-reduce overlapping backward)" if ranks != "1" else "")
print(f"{label}: 2 stages x {steps} steps in {end - start:.1f} s wall (start-up and validation included)"
      + (f"; communication ms/step: {', '.join(comm)}" if comm else ""))
PY
done
