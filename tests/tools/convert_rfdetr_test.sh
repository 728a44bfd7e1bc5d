#!/usr/bin/env bash
# tools/convert_rfdetr.py end to end: a fake RF-DETR checkpoint made from the tiny_seg fixture
# (its weights, plus one tensor of every other dtype, and its config.json as the argparse
# Namespace) is converted; every tensor must come back bit-identical, config.json must round-trip,
# and bad inputs must fail with clear messages.
#
# usage: convert_rfdetr_test.sh SOURCE_DIR RFDETR_FIXTURES_DIR
# Prints "SKIP: ..." and exits 0 when PyTorch for Python or the fixtures are missing.
set -euo pipefail

source_dir=$1
fixtures=$2
tool="$source_dir/tools/convert_rfdetr.py"

# Debian's python3-torch lives in /usr/bin/python3, which a python3 earlier on PATH may hide.
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [[ -z "$python" ]]; then
  echo "SKIP: no python3 with PyTorch (apt-get install python3-torch)"
  exit 0
fi
if [[ ! -f "$fixtures/tiny_seg/weights.safetensors" || ! -f "$fixtures/tiny_seg/config.json" ]]; then
  echo "SKIP: RF-DETR fixtures not found at $fixtures"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A small safetensors reader, independent of the tool's writer, that also checks the layout.
cat >"$work/reader.py" <<'EOF'
import json, struct

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
         "BOOL": 1}

def read(path):
    """{name: (dtype, shape, raw bytes)}, metadata."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        count = 1
        for dim in entry["shape"]:
            count *= dim
        assert end - begin == count * SIZES[entry["dtype"]], name
        tensors[name] = (entry["dtype"], entry["shape"], body[begin:end])
        spans.append((begin, end, name))
    spans.sort()
    assert spans[-1][1] == len(body), "data has trailing bytes"
    for (b0, e0, a), (b1, e1, b) in zip(spans, spans[1:]):
        assert e0 == b1, f"gap or overlap between {a} and {b}"
    return tensors, metadata, n
EOF

echo "== build a fake RF-DETR checkpoint"
"$python" - "$fixtures/tiny_seg" "$work" <<'EOF'
import argparse, json, sys, torch
sys.path.insert(0, sys.argv[2])
from reader import read

TORCH = {"F32": torch.float32}
fixture, work = sys.argv[1], sys.argv[2]
tensors, _, _ = read(f"{fixture}/weights.safetensors")
model = {}
for name, (dtype, shape, raw) in tensors.items():
    model[name] = torch.frombuffer(bytearray(raw), dtype=TORCH[dtype]).reshape(shape).clone()
extras = {
    "extra.f64": torch.arange(5, dtype=torch.float64) / 3,
    "extra.f16": torch.linspace(-2, 2, 7).half(),
    "extra.bf16": torch.linspace(-3, 3, 6).bfloat16().reshape(2, 3),
    "extra.i64": torch.tensor([-(1 << 40), 7]),
    "extra.i32": torch.tensor([-5, 6], dtype=torch.int32),
    "extra.i16": torch.tensor([-300], dtype=torch.int16),
    "extra.i8": torch.tensor([-7, 8], dtype=torch.int8),
    "extra.u8": torch.tensor([0, 255], dtype=torch.uint8),
    "extra.bool": torch.tensor([True, False, True]),
    "extra.scalar": torch.tensor(2.5),
    "extra.empty": torch.zeros(0, 3),
    "extra.transposed": torch.arange(12.0).reshape(3, 4).t(),
}
model.update(extras)
config = json.load(open(f"{fixture}/config.json"))
ema = {name: t + 1 if t.is_floating_point() else t for name, t in model.items()}
torch.save({"model": model, "ema_model": ema, "args": argparse.Namespace(**config), "epoch": 3},
           f"{work}/checkpoint.pth")
torch.save({"model": model}, f"{work}/no_args.pth")
torch.save({"weights": model}, f"{work}/no_model.pth")
torch.save({"model": {"a": torch.zeros(1), "step": 5}}, f"{work}/not_tensors.pth")
torch.save({"model": model, "ema_model": ema}, f"{work}/reference.pth")  # what to compare with
EOF

echo "== convert"
"$python" "$tool" "$work/checkpoint.pth" --out "$work/out"
"$python" "$tool" "$work/checkpoint.pth" --out "$work/out_ema" --ema

echo "== compare"
"$python" - "$fixtures/tiny_seg" "$work" <<'EOF'
import json, sys, torch
sys.path.insert(0, sys.argv[2])
from reader import read

fixture, work = sys.argv[1], sys.argv[2]
reference = torch.load(f"{work}/reference.pth")
original, _, _ = read(f"{fixture}/weights.safetensors")

def raw(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()

for out, key in (("out", "model"), ("out_ema", "ema_model")):
    converted, metadata, header_size = read(f"{work}/{out}/weights.safetensors")
    assert header_size % 8 == 0, header_size
    assert metadata["weights"] == key, metadata
    expected = reference[key]
    assert sorted(converted) == sorted(expected), set(converted) ^ set(expected)
    for name, tensor in expected.items():
        dtype, shape, data = converted[name]
        assert shape == list(tensor.shape), (name, shape, tensor.shape)
        assert data == raw(tensor), f"{out}: {name} differs"
    # The fixture's own file (written by the reference safetensors library): same bytes.
    if key == "model":
        for name, (dtype, shape, data) in original.items():
            assert converted[name] == (dtype, shape, data), name
    print(f"{out}: {len(converted)} tensors bit-identical")

config = json.load(open(f"{work}/out/config.json"))
assert config == json.load(open(f"{fixture}/config.json")), "config.json does not round-trip"
print("config.json round-trips")
EOF

echo "== bad inputs"
expect_failure() {  # expect_failure MESSAGE ARGS...
  local message=$1
  shift
  if "$python" "$tool" "$@" >"$work/stdout" 2>"$work/stderr"; then
    echo "FAIL: no error for: $*"
    exit 1
  fi
  if ! grep -qF "$message" "$work/stderr"; then
    echo "FAIL: expected '$message' for: $*; got:"
    cat "$work/stderr"
    exit 1
  fi
  echo "ok: $message"
}
expect_failure "no such file" "$work/missing.pth" --out "$work/x"
expect_failure "no 'model' entry; it has: weights" "$work/no_model.pth" --out "$work/x"
expect_failure "not named tensors: step (int)" "$work/not_tensors.pth" --out "$work/x"
expect_failure "no 'ema_model' entry (it was saved without EMA weights" "$work/no_args.pth" \
  --out "$work/x" --ema
echo "this is not a checkpoint" >"$work/text.pth"
expect_failure "cannot be read as a PyTorch checkpoint" "$work/text.pth" --out "$work/x"
[[ ! -e "$work/x" ]] || { echo "FAIL: a failed conversion created its output folder"; exit 1; }

"$python" "$tool" "$work/no_args.pth" --out "$work/no_args" | grep -q "no config.json written"
[[ -f "$work/no_args/weights.safetensors" && ! -e "$work/no_args/config.json" ]]
echo "PASS"
