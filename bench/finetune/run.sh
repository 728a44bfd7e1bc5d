#!/bin/bash
# Does starting from pre-trained weights pay? A small detector is pre-trained on three shapes
# (pretrain.toml), then trained on two other shapes from 60 images (finetune.toml) twice, with the
# same budget: from the pre-trained weights (rtseg train --weights) and from random weights.
# Prints box AP on the new task's validation images after each epoch, as the table in
# docs/training.md ("Does it pay?"):
#
#   bash bench/finetune/run.sh [OUTPUT_DIR] [THREADS]
#
# Defaults: runs/bench_finetune, 1 thread (on a loaded machine more threads than free cores slow
# LibTorch down many times). CPU only; seeded, so a rerun on the same build prints the same
# table (timing is not measured).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/bench_finetune}
threads=${2:-1}
rtseg=${RTSEG_BIN:-build/bin/rtseg}
rm -rf "$out"
mkdir -p "$out"

train() {  # NAME ARGUMENTS...: one run into $out/NAME, its console output in $out/NAME.log
  local name=$1
  shift
  echo "training $name ..." >&2
  "$rtseg" train --output_dir "$out/$name" --threads "$threads" "$@" > "$out/$name.log" 2>&1 ||
    { tail -20 "$out/$name.log" >&2; exit 1; }
}

train pretrain --recipe bench/finetune/pretrain.toml
pretrained=$(echo "$out"/pretrain/pretrain_*)
train pretrained --recipe bench/finetune/finetune.toml --weights "$pretrained"
train scratch --recipe bench/finetune/finetune.toml

# One metric of every epoch of a run: "epoch value" lines from its metrics.jsonl.
metric() {
  sed -n "s/.*\"epoch\":\([0-9]*\).*\"$2\":\([-0-9.e]*\).*/\1 \2/p" "$out/$1"/*/metrics.jsonl
}
ap50=$(metric pretrain 'metrics\/mAP50(B)' | tail -1 | cut -d' ' -f2)
echo
echo "Pre-trained detector (ellipses, rectangles, triangles): box AP50 $(printf %.3f "$ap50") on its own task."
echo
echo "| epochs on stars and rings | box AP50, pre-trained start | box AP50, random start | box AP50-95, pre-trained | box AP50-95, random |"
echo "|---|---|---|---|---|"
paste <(metric pretrained 'metrics\/mAP50(B)') <(metric scratch 'metrics\/mAP50(B)') \
  <(metric pretrained 'metrics\/mAP50-95(B)') <(metric scratch 'metrics\/mAP50-95(B)') |
  awk '{printf "| %d | %.3f | %.3f | %.3f | %.3f |\n", $1, $2, $4, $6, $8}'
