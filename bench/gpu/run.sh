#!/bin/bash
# Every GPU figure of rtseg in one go, on a GPU machine without network access
# (../shared/device/README.md), from the project's root:
#
#   bash bench/gpu/run.sh [RESULTS_DIR]        # default: $OUT, else ./gpu-results
#
# Needs .devdeps/ (made here by `bash ../shared/device/pack-deps.sh`) and, for the full-size parity
# check, .gpucarry/ holding rfdetr_reference.py and RF-DETR's `rfdetr/` package (both git-ignored).
# Builds against the machine's CUDA LibTorch, then writes into RESULTS_DIR:
#   env.txt        GPU, versions, and the time each phase took
#   build.log      the build
#   reference.log  RF-DETR's own model run on the same weights and input (nano at 384, det + seg)
#   parity.txt     rtseg vs RF-DETR, every output, fp32 on the CPU (acceptance: <= 1e-4)
#   bench.txt      training-step and inference tables
#   bench.json     the same, as JSON (rtseg_bench_train_step / rtseg_bench_infer cases)
#   train.log      the quickstart pipeline trained on the GPU with AMP
#   memory.txt     where a step's memory goes (rtseg_bench_memory_breakdown)
#   nccl.txt       one GPU: NCCL collectives, the gradient reducer and the trainer in a one-rank
#                  group (gpu_tests); 2+ GPUs: the quickstart over NCCL, one rank per GPU
#   nccl_*.txt     one GPU, when nccl.txt failed: the trainer case again, alone, without the NCCL
#                  monitor threads, and under gdb (every thread's stack at the fault)
#   gloo_cuda.txt  one GPU: the same cases with CUDA tensors over Gloo
#   plan.txt       `rtseg plan` for 4/6/8/16 GiB cards (docs/memory.md)
# RTSEG_GPU_PARTS picks parts (default: all): parity steps memory plan infer quickstart nccl knobs sizes
set -u
parts=" ${RTSEG_GPU_PARTS:-parity steps memory plan infer quickstart nccl knobs sizes} "
want() { [[ "$parts" == *" $1 "* ]]; }
results=${1:-${OUT:-gpu-results}}
mkdir -p "$results"
json=/tmp/rtseg-gpu-json
rm -rf "$json" && mkdir -p "$json"
start=$SECONDS
stamp() { echo "[$((SECONDS - start)) s] $*" >> "$results/env.txt"; }

source .devdeps/setup-gpu.sh > "$results/env.txt" 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$results/env.txt" 2>&1

# RF-DETR's reference outputs on the CPU, built while we compile.
ref=/tmp/rtseg-rfdetr-ref
ref_pid=
if [ -d .gpucarry/rfdetr ] && want parity; then
  (for flavour in det seg; do
     seg=; [ "$flavour" = seg ] && seg=--seg
     OMP_NUM_THREADS=4 timeout 300 python3 .gpucarry/rfdetr_reference.py --src .gpucarry --size nano $seg \
       --device cpu --out "$ref/nano_$flavour"
   done) > "$results/reference.log" 2>&1 &
  ref_pid=$!
fi

stamp configure
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRTSEG_USE_CCACHE=OFF > "$results/build.log" 2>&1
stamp build
plugins="coco convnet dinov2 hires_mask lwdetr rfdetr_mask schedulers synthetic_shapes yolo_seg"
cmake --build build-gpu -j 16 -- -k 0 rtseg rtseg_bench_train_step rtseg_bench_infer rtseg_bench_memory_breakdown parity_tests gpu_tests \
  $(for p in $plugins; do echo rtseg_plugin_$p; done) >> "$results/build.log" 2>&1
status=$?
if [ ! -x build-gpu/bin/rtseg ]; then
  # Keep the session's figures if only the NCCL path fails to build: Gloo carries everything.
  echo "== rebuilding without NCCL" >> "$results/build.log"
  cmake -S . -B build-gpu -DRTSEG_ENABLE_NCCL=OFF >> "$results/build.log" 2>&1
  cmake --build build-gpu -j 16 -- -k 0 rtseg rtseg_bench_train_step rtseg_bench_infer rtseg_bench_memory_breakdown parity_tests gpu_tests \
    $(for p in $plugins; do echo rtseg_plugin_$p; done) >> "$results/build.log" 2>&1
  status="$? (without NCCL)"
fi
stamp "built (status $status)"
bin=build-gpu/bin

if [ -n "$ref_pid" ]; then
  wait "$ref_pid"
  stamp "reference outputs written"
  RTSEG_PARITY_DIRS="$ref/nano_det:$ref/nano_seg" timeout 180 "$bin/parity_tests" \
    --gtest_filter='RfdetrFullSizeParity.*' > "$results/parity.txt" 2>&1
  stamp "parity checked"
fi

# NCCL first, as it is short. It needs a GPU per rank (it refuses two ranks on one device): with
# several GPUs the quickstart trains a few steps over NCCL on all of them; with one, gpu_tests
# runs NCCL in a one-rank group.
if want nccl; then
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ "$gpus" -ge 2 ]; then
  timeout 180 "$bin/rtseg" train --recipe recipes/quickstart.toml --max_steps 20 --device cuda --dist_backend nccl \
    --nproc "$gpus" --set train.output_dir=\"/tmp/rtseg-nccl\" > "$results/nccl.txt" 2>&1
  stamp "nccl on $gpus GPUs (status $?)"
else
  # NCCL refuses two ranks on one GPU: a one-rank group that still communicates.
  timeout 180 build-gpu/bin/gpu_tests --gtest_filter='*/OneRankGroup.*/Nccl' > "$results/nccl.txt" 2>&1
  nccl_status=$?
  stamp "nccl, one rank on one GPU (status $nccl_status)"
  if [ "$nccl_status" -ne 0 ]; then
    # Where it failed: the trainer case alone with NCCL's own logging; then without PyTorch's
    # NCCL threads (blocking wait: no watchdog, no heartbeat monitor) and flight recorder; then
    # (where the machine has gdb) every thread's stack at the fault.
    one='--gtest_filter=*/OneRankGroup.TheTrainerRunsItsSteps/Nccl'
    NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,ENV TORCH_CPP_LOG_LEVEL=INFO timeout 120 build-gpu/bin/gpu_tests "$one" > "$results/nccl_alone.txt" 2>&1
    stamp "nccl trainer case alone (status $?)"
    TORCH_NCCL_BLOCKING_WAIT=1 TORCH_NCCL_ENABLE_MONITORING=0 TORCH_NCCL_TRACE_BUFFER_SIZE=0 \
      timeout 120 build-gpu/bin/gpu_tests "$one" > "$results/nccl_no_monitor.txt" 2>&1
    stamp "nccl trainer case without the monitor threads (status $?)"
    if command -v gdb > /dev/null; then
      timeout 150 gdb -q -batch -ex 'set pagination off' -ex run -ex 'info sharedlibrary' -ex 'thread apply all bt 30' \
        --args build-gpu/bin/gpu_tests "$one" > "$results/nccl_gdb.txt" 2>&1
      stamp "nccl trainer case under gdb (status $?)"
    fi
  fi
  # The same cases with CUDA tensors over Gloo: a fault here too is the CUDA path's, not NCCL's.
  timeout 120 build-gpu/bin/gpu_tests --gtest_filter='*/OneRankGroup.*/GlooCuda' > "$results/gloo_cuda.txt" 2>&1
  stamp "gloo with CUDA tensors, one rank (status $?)"
fi
fi

never='--set model.backbone.recompute="never" --set model.decoder.recompute="never" --set model.seg_head.recompute="never"'
steps="$bin/rtseg_bench_train_step --device cuda --steps 8 --warmup 3"
infer="$bin/rtseg_bench_infer --device cuda --runs 30 --warmup 5"
if want steps; then
{
  echo "== training step, nano segmentation (single stage), bf16"
  timeout 120 $steps --size nano --batch 1,2,4,8,16 --json "$json/steps_nano_seg.json"
  echo "== the same, every component holding its activations (recompute = \"never\")"
  timeout 60 $steps --size nano --batch 1,8 $never --json "$json/steps_nano_seg_norecompute.json"
  echo "== the same, the decoder recomputing its feed-forward blocks only (recompute_scope = \"ffn\")"
  timeout 60 $steps --size nano --batch 1,8 --set model.decoder.recompute_scope=\"ffn\" --json "$json/steps_nano_seg_ffn.json"
  echo "== defaults again (the order's effect on the timings)"
  timeout 60 $steps --size nano --batch 1,8 --json "$json/steps_nano_seg_again.json"
  echo "== training step, nano detector"
  timeout 60 $steps --recipe recipes/pipelines/detector_stage1.toml --size nano --batch 1,8 --json "$json/steps_nano_det.json"
  echo "== training step, nano segmentation, gradient checkpointing / fp16 / stage 2"
  timeout 60 $steps --size nano --batch 8 --checkpointing --json "$json/steps_nano_ckpt.json"
  timeout 60 $steps --size nano --batch 1 --amp fp16 --json "$json/steps_nano_fp16.json"
  timeout 60 $steps --recipe recipes/pipelines/seg_stage2.toml --size nano --batch 1,8 --json "$json/steps_nano_stage2.json"
} > "$results/bench.txt" 2>&1
stamp "training steps"
fi

if want memory; then
{
  echo "== where the memory goes, nano segmentation 384, bf16"
  timeout 60 $bin/rtseg_bench_memory_breakdown --device cuda --size nano --batch 1,8
  timeout 60 $bin/rtseg_bench_memory_breakdown --device cuda --size nano --batch 1,8 $never
} > "$results/memory.txt" 2>&1
stamp "memory"
fi

if want plan; then
{
  for budget in 4 6 8 16; do
    echo "== rtseg plan, nano segmentation, ${budget} GiB"
    timeout 90 $bin/rtseg plan --recipe recipes/pipelines/seg_single_stage.toml --device cuda --budget ${budget}GiB
  done
} > "$results/plan.txt" 2>&1
stamp "plan"
fi

if want infer; then
{
  echo "== inference, nano"
  timeout 120 $infer --size nano --precision fp32,bf16,fp16 --graph 0,1 --json "$json/infer_nano.json"
} >> "$results/bench.txt" 2>&1
stamp "inference"
fi

# The quickstart pipeline on the GPU (AMP auto = bf16): the engine end to end, with validation.
if want quickstart; then
timeout 150 "$bin/rtseg" run recipes/quickstart.toml --set train.device=\"cuda\" --set train.output_dir=\"/tmp/rtseg-runs\" \
  > "$results/train.log" 2>&1
stamp "quickstart on the GPU (status $?)"
fi

if want knobs; then
{
  echo "== memory knobs, nano 384 (docs/memory.md)"
  RTSEG_BENCH=$bin/rtseg_bench_train_step timeout 150 bash bench/memory/knobs.sh --device cuda --resolution 384 \
    --out "$json/knobs.json"
} >> "$results/bench.txt" 2>&1
stamp "memory knobs"
fi

if want sizes; then
{
  echo "== resolution sweep, nano segmentation, batch 1"
  timeout 60 $steps --size nano --batch 1 --resolution 256,320,512,640 --json "$json/steps_nano_res.json"
  echo "== other sizes"
  timeout 150 $steps --size small,base,medium,large --batch 1,4 --json "$json/steps_sizes.json"
  timeout 120 $infer --size small,base,medium,large --precision bf16 --graph 0,1 --json "$json/infer_sizes.json"
} >> "$results/bench.txt" 2>&1
stamp "other sizes"
fi

python3 - "$json" "$results/bench.json" <<'PY'
import glob, json, os, sys
merged = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        merged[os.path.basename(path)[:-5]] = json.load(open(path))
    except Exception as error:
        merged[os.path.basename(path)[:-5]] = {"error": str(error)}
json.dump(merged, open(sys.argv[2], "w"), indent=1)
PY
stamp done
