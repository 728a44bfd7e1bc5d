#!/usr/bin/env python3
"""Converts an RF-DETR checkpoint (.pth) into files rtseg reads. Optional: rtseg reads .pth files
itself, without Python (`rtseg recipe from-rfdetr CHECKPOINT.pth`); use this script to keep a
checkpoint's weights as a .safetensors file, or to inspect one with PyTorch.

    python3 tools/convert_rfdetr.py CHECKPOINT.pth --out DIR [--ema]

writes

    DIR/weights.safetensors  the state dict ('model', or 'ema_model' with --ema) with RF-DETR's own
                             tensor names and dtypes (rtseg's model tree uses the same names)
    DIR/config.json          the checkpoint's 'args' (RF-DETR's populate_args namespace), as JSON

The rtseg recipe is made from config.json by the C++ side (`rtseg recipe from-rfdetr
DIR/config.json`), so that the mapping from RF-DETR's arguments lives in one place
(framework/src/rfdetr_args.cpp).

Needs only Python 3 and PyTorch (Debian's python3-torch): no safetensors package, no rfdetr.
Loading a .pth file unpickles it: convert only checkpoints you trust.
"""

import argparse
import inspect
import json
import math
import os
import pathlib
import sys
import tempfile

# torch dtype name -> (safetensors dtype, element size)
DTYPES = {
    "torch.float64": ("F64", 8),
    "torch.float32": ("F32", 4),
    "torch.float16": ("F16", 2),
    "torch.bfloat16": ("BF16", 2),
    "torch.int64": ("I64", 8),
    "torch.int32": ("I32", 4),
    "torch.int16": ("I16", 2),
    "torch.int8": ("I8", 1),
    "torch.uint8": ("U8", 1),
    "torch.bool": ("BOOL", 1),
}


class ConversionError(Exception):
    """A problem with the input; reported without a traceback."""


def load_checkpoint(path):
    import torch  # imported here so that --help works without PyTorch

    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    kwargs = {"map_location": "cpu"}
    # RF-DETR checkpoints hold an argparse.Namespace, which weights_only loading refuses.
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False
    try:
        return torch.load(str(path), **kwargs)
    except Exception as error:  # a corrupt or non-PyTorch file: torch raises many kinds
        raise ConversionError(f"{path}: cannot be read as a PyTorch checkpoint: {error}") from error


def state_dict_of(checkpoint, path, use_ema):
    import torch

    if not isinstance(checkpoint, dict):
        raise ConversionError(
            f"{path}: expected a checkpoint dict with a 'model' entry, got {type(checkpoint).__name__}")
    key = "ema_model" if use_ema else "model"
    if key not in checkpoint:
        hint = " (it was saved without EMA weights; drop --ema)" if use_ema else ""
        raise ConversionError(
            f"{path}: no '{key}' entry{hint}; it has: {', '.join(map(str, checkpoint)) or 'nothing'}")
    state = checkpoint[key]
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: '{key}' is a {type(state).__name__}, not a state dict")
    bad = [f"{name} ({type(value).__name__})" for name, value in state.items()
           if not isinstance(name, str) or not isinstance(value, torch.Tensor)]
    if bad:
        raise ConversionError(f"{path}: '{key}' has entries that are not named tensors: "
                              + ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else ""))
    for name, tensor in state.items():
        if str(tensor.dtype) not in DTYPES:
            raise ConversionError(f"{path}: tensor '{name}' has dtype {tensor.dtype}, which safetensors "
                                  "files here do not hold")
        if tensor.layout != torch.strided:
            raise ConversionError(f"{path}: tensor '{name}' is not dense ({tensor.layout})")
    return state


def tensor_bytes(tensor):
    import torch

    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def write_safetensors(path, state, metadata):
    """The safetensors layout: 8-byte little-endian header length, JSON header, then the data.

    Data is packed by decreasing element size, then by name (as the reference writer does), so
    every tensor starts at a multiple of its element size; the header is padded with spaces to a
    multiple of 8 bytes.
    """
    if sys.byteorder != "little":
        raise ConversionError("this writer assumes a little-endian machine")
    order = sorted(state, key=lambda name: (-DTYPES[str(state[name].dtype)][1], name))
    header, offset = {}, 0
    for name in order:
        tensor = state[name]
        dtype, itemsize = DTYPES[str(tensor.dtype)]
        size = tensor.numel() * itemsize
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)

    def write(out):
        out.write(len(text).to_bytes(8, "little"))
        out.write(text)
        for name in order:
            out.write(tensor_bytes(state[name]))

    write_atomically(path, write)


def write_atomically(path, write):
    """Writes through a temporary file in the same folder, so an old file survives a failure."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would survive the rename
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def to_json(value):
    """JSON-ready copy: tuples/sets become lists, anything else unknown becomes its str()."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return [to_json(item) for item in sorted(value, key=str)]
    return str(value)


def args_of(checkpoint):
    args = checkpoint.get("args")
    if args is None:
        return None
    return to_json(args if isinstance(args, dict) else vars(args))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=pathlib.Path, help="RF-DETR .pth checkpoint")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output folder")
    parser.add_argument("--ema", action="store_true", help="take the EMA weights ('ema_model')")
    options = parser.parse_args(argv)
    try:
        checkpoint = load_checkpoint(options.checkpoint)
        state = state_dict_of(checkpoint, options.checkpoint, options.ema)
        options.out.mkdir(parents=True, exist_ok=True)
        metadata = {"format": "pt", "source": options.checkpoint.name,
                    "weights": "ema_model" if options.ema else "model"}
        write_safetensors(options.out / "weights.safetensors", state, metadata)
        args = args_of(checkpoint)
        if args is not None:
            text = json.dumps(args, indent=1, allow_nan=False) + "\n"
            write_atomically(options.out / "config.json", lambda out: out.write(text.encode("utf-8")))
    except ConversionError as error:
        print(f"convert_rfdetr: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"convert_rfdetr: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {options.out / 'weights.safetensors'} ({len(state)} tensors)")
    if args is None:
        print("note: the checkpoint has no 'args'; no config.json written (a recipe needs one)")
    else:
        print(f"wrote {options.out / 'config.json'}; make the recipe with: "
              f"rtseg recipe from-rfdetr {options.out / 'config.json'} (or from the .pth itself)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
