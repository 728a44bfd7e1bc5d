"""Writes the decoder-only parity fixtures in data/ with RF-DETR 1.4.1's own model code.

Usage: python3 make_decoder_fixtures.py --rfdetr-src DIR --out DIR   (PyTorch 1.13, CPU)
(DIR of --rfdetr-src holds RF-DETR's rfdetr/ package; the test suite runs this at test time.)

RF-DETR's LWDETR is built around a stand-in backbone that returns given feature maps and masks,
so the fixtures exercise exactly the transformer + heads that the lwdetr plugin reimplements.
Each file holds the decoder's weights under RF-DETR's names, the inputs (`input.level{l}`,
`input.mask{l}` as 0/1 floats) and, for eval and train mode, every output:
`{mode}.layer{l}.{logits,boxes,features}` and `{mode}.encoder.{logits,boxes,features}`.
With `grads`, `grad.{name}` is d(sum of the means of all train outputs)/d(parameter).
Only the heavy imports RF-DETR's lwdetr.py does not need for this are replaced by stubs.
"""
import argparse
import json
import os
import struct
import sys
import types

import torch

SRC = None  # set from --rfdetr-src
OUT = None  # set from --out


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def import_rfdetr():
    for package in ["rfdetr", "rfdetr.models", "rfdetr.util"]:
        stub(package).__path__ = [os.path.join(SRC, *package.split("."))]
    unused = lambda *args, **kwargs: None  # noqa: E731
    stub("rfdetr.models.backbone", build_backbone=unused)
    stub("rfdetr.models.matcher", build_matcher=unused)
    stub("rfdetr.models.segmentation_head", SegmentationHead=None, calculate_uncertainty=unused,
         get_uncertain_point_coords_with_randomness=unused, point_sample=unused)
    stub("rfdetr.util.box_ops")
    stub("rfdetr.util.misc", NestedTensor=object, accuracy=unused, get_world_size=unused,
         is_dist_avail_and_initialized=unused, nested_tensor_from_tensor_list=unused)
    from rfdetr.models.lwdetr import LWDETR
    from rfdetr.models.transformer import Transformer
    return LWDETR, Transformer


class Level:
    def __init__(self, tensors, mask):
        self.tensors, self.mask = tensors, mask

    def decompose(self):
        return self.tensors, self.mask


class GivenFeatures(torch.nn.Module):
    """Stands in for the backbone: returns the feature maps and masks it was given."""

    def forward(self, samples):
        levels = [Level(f, m) for f, m in zip(samples["features"], samples["masks"])]
        return levels, [torch.zeros_like(f) for f in samples["features"]]


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, tensor in tensors.items():
        values = tensor.detach().contiguous().view(-1).to(torch.float32).tolist()
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def collect(model, captured, out, mode, L):
    named = {}
    hs, memory_ts = captured["hs"], captured["memory_ts"]
    layers = [(a["pred_logits"], a["pred_boxes"]) for a in out.get("aux_outputs", [])]
    layers.append((out["pred_logits"], out["pred_boxes"]))
    assert len(layers) == L
    for l, (logits, boxes) in enumerate(layers):
        named[f"{mode}.layer{l}.logits"] = logits
        named[f"{mode}.layer{l}.boxes"] = boxes
        named[f"{mode}.layer{l}.features"] = hs[l]
    if "enc_outputs" in out:
        named[f"{mode}.encoder.logits"] = out["enc_outputs"]["pred_logits"]
        named[f"{mode}.encoder.boxes"] = out["enc_outputs"]["pred_boxes"]
        named[f"{mode}.encoder.features"] = memory_ts
    return named


def make(name, cfg, level_sizes, padded, grads, LWDETR, Transformer):
    torch.manual_seed(0)
    transformer = Transformer(
        d_model=cfg["hidden_dim"], sa_nhead=cfg["sa_nheads"], ca_nhead=cfg["ca_nheads"],
        num_queries=cfg["num_queries"], num_decoder_layers=cfg["dec_layers"],
        dim_feedforward=cfg["dim_feedforward"], dropout=0.0, return_intermediate_dec=True,
        group_detr=cfg["group_detr"], two_stage=cfg["two_stage"],
        num_feature_levels=len(level_sizes), dec_n_points=cfg["dec_n_points"],
        lite_refpoint_refine=cfg["lite_refpoint_refine"], decoder_norm_type=cfg["decoder_norm"],
        bbox_reparam=cfg["bbox_reparam"])
    model = LWDETR(GivenFeatures(), transformer, None, num_classes=cfg["num_classes"] + 1,
                   num_queries=cfg["num_queries"], aux_loss=True, group_detr=cfg["group_detr"],
                   two_stage=cfg["two_stage"], lite_refpoint_refine=cfg["lite_refpoint_refine"],
                   bbox_reparam=cfg["bbox_reparam"])
    with torch.no_grad():
        for p in model.parameters():
            p += torch.randn_like(p) * 0.02
    captured = {}

    def hook(module, inputs, output):
        captured["hs"], captured["memory_ts"] = output[0], output[2]

    model.transformer.register_forward_hook(hook)

    g = torch.Generator().manual_seed(1)
    batch = 2
    features = [torch.randn(batch, cfg["hidden_dim"], h, w, generator=g) for h, w in level_sizes]
    masks = []
    for h, w in level_sizes:
        mask = torch.zeros(batch, h, w, dtype=torch.bool)
        if padded:  # image 1 leaves the last quarter (at least one) of rows and columns blank
            mask[1, h - max(1, h // 4):, :] = True
            mask[1, :, w - max(1, w // 4):] = True
        masks.append(mask)
    samples = {"features": features, "masks": masks}

    tensors = {}
    for key, value in model.state_dict().items():
        tensors[key] = value
    for l, (f, m) in enumerate(zip(features, masks)):
        tensors[f"input.level{l}"] = f
        tensors[f"input.mask{l}"] = m.float()
    L = cfg["dec_layers"]
    model.eval()
    with torch.no_grad():
        tensors.update(collect(model, captured, model(samples), "eval", L))
    model.train()
    train = collect(model, captured, model(samples), "train", L)
    tensors.update({k: v.detach() for k, v in train.items()})
    if grads:
        loss = sum(v.mean() for v in train.values())
        loss.backward()
        # Every state-dict name, so a shared module's gradient appears under both its names.
        for key, p in model.state_dict(keep_vars=True).items():
            if p.grad is not None:
                tensors[f"grad.{key}"] = p.grad
    meta = {k: json.dumps(v) for k, v in cfg.items()}
    meta["level_sizes"] = json.dumps(level_sizes)
    meta["torch"] = torch.__version__
    save_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, meta)
    print(name, sum(t.numel() for t in tensors.values()), "floats")


def main():
    global SRC, OUT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rfdetr-src", required=True, help="folder holding RF-DETR's rfdetr/")
    parser.add_argument("--out", required=True, help="folder for the .safetensors files")
    args = parser.parse_args()
    SRC, OUT = args.rfdetr_src, args.out
    os.makedirs(OUT, exist_ok=True)
    LWDETR, Transformer = import_rfdetr()
    torch.set_num_threads(1)
    base = dict(hidden_dim=32, sa_nheads=2, ca_nheads=4, dec_n_points=2, dim_feedforward=64,
                dec_layers=2, num_queries=10, group_detr=3, num_classes=3, two_stage=True,
                bbox_reparam=True, lite_refpoint_refine=True, decoder_norm="LN")
    # The shipped configuration, two levels, one padded image, with gradients.
    make("rfdetr_default", base, [(8, 8), (4, 4)], True, True, LWDETR, Transformer)
    # Sigmoid boxes, layer-by-layer refinement, no output norm, fewer cells (9) than queries (10).
    make("rfdetr_sigmoid_refine", dict(base, bbox_reparam=False, lite_refpoint_refine=False,
                                       decoder_norm="Identity"),
         [(3, 3)], True, True, LWDETR, Transformer)
    # Learned reference boxes only (no two-stage proposals).
    make("rfdetr_one_stage", dict(base, two_stage=False), [(6, 6)], False, False, LWDETR,
         Transformer)


if __name__ == "__main__":
    main()
