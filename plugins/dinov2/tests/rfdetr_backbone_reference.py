#!/usr/bin/env python3
"""Runs RF-DETR 1.4.1's own windowed DINOv2 + MultiScaleProjector code on weights and inputs
written by the C++ tests, and writes what it computes, for the dinov2 plugin's parity tests.

usage: rfdetr_backbone_reference.py BACKBONE_SRC_DIR CASE_DIR [CASE_DIR ...]

BACKBONE_SRC_DIR is RF-DETR's rfdetr/models/backbone folder. RF-DETR's DINOv2 file imports a few
Hugging Face `transformers` helpers; transformers is not installed here, so minimal stand-ins for
exactly those helpers are registered first (configuration storage, identity docstring decorators,
the backbone stage bookkeeping). The model code that runs is RF-DETR's, unmodified.

Each CASE_DIR holds:
  case.json          {"hidden_size", "num_heads", "num_layers", "patch_size", "num_windows",
                      "positional_encoding_size", "num_register_tokens", "out_feature_indexes",
                      "projector_scale", "projector_blocks", "out_channels"}
  weights.safetensors  RF-DETR names ("backbone.0.encoder.encoder.*", "backbone.0.projector.*")
  input.safetensors    "images" [B, 3, H, W]
and receives reference.safetensors: "tap.K" (ViT feature maps) and "level.K" (projector outputs).
"""
import importlib.util
import json
import logging
import struct
import sys
import types

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", (name, entry["dtype"])
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def install_transformers_stand_ins():
    def identity_decorator(*args, **kwargs):
        return lambda fn: fn

    class PretrainedConfig:
        def __init__(self, **kwargs):
            self.return_dict = kwargs.pop("return_dict", True)
            self.output_attentions = False
            self.output_hidden_states = False
            self._attn_implementation = kwargs.pop("_attn_implementation", "eager")
            for key, value in kwargs.items():
                setattr(self, key, value)

        @property
        def use_return_dict(self):
            return self.return_dict

    class BackboneConfigMixin:
        @property
        def out_features(self):
            return self._out_features

    def get_aligned_output_features_output_indices(out_features, out_indices, stage_names):
        return list(out_features), [stage_names.index(name) for name in out_features]

    class PreTrainedModel(nn.Module):
        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config

        def post_init(self):
            self.apply(self._init_weights)

    class BackboneMixin:
        def _init_backbone(self, config):
            self.stage_names = config.stage_names
            self.out_features = list(config._out_features)

    class GELUActivations:
        def __getitem__(self, name):
            assert name == "gelu", name
            return nn.GELU()

    class Output(dict):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.__dict__.update(kwargs)

    modules = {
        "transformers": {},
        "transformers.activations": {"ACT2FN": GELUActivations()},
        "transformers.configuration_utils": {"PretrainedConfig": PretrainedConfig},
        "transformers.modeling_outputs": {name: Output for name in (
            "BackboneOutput", "BaseModelOutput", "BaseModelOutputWithPooling",
            "ImageClassifierOutput")},
        "transformers.modeling_utils": {"PreTrainedModel": PreTrainedModel},
        "transformers.pytorch_utils": {"find_pruneable_heads_and_indices": None,
                                       "prune_linear_layer": None},
        "transformers.utils": {
            "add_code_sample_docstrings": identity_decorator,
            "add_start_docstrings": identity_decorator,
            "add_start_docstrings_to_model_forward": identity_decorator,
            "replace_return_docstrings": identity_decorator,
            "logging": types.SimpleNamespace(get_logger=logging.getLogger),
            "torch_int": int,
        },
        "transformers.utils.backbone_utils": {
            "BackboneConfigMixin": BackboneConfigMixin,
            "BackboneMixin": BackboneMixin,
            "get_aligned_output_features_output_indices": get_aligned_output_features_output_indices,
        },
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


def load_source(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_case(windowed, projector_module, case_dir):
    case = json.load(open(f"{case_dir}/case.json"))
    taps = case["out_feature_indexes"]
    # RF-DETR's DinoV2.__init__: the layers up to the last tap that are not tapped are windowed.
    window_block_indexes = sorted(set(range(taps[-1] + 1)) - set(taps))
    config = windowed.WindowedDinov2WithRegistersConfig(
        hidden_size=case["hidden_size"], num_hidden_layers=case["num_layers"],
        num_attention_heads=case["num_heads"], mlp_ratio=4, hidden_act="gelu",
        layer_norm_eps=1e-6, layerscale_value=1.0, qkv_bias=True, use_swiglu_ffn=False,
        drop_path_rate=0.0, image_size=case["positional_encoding_size"] * case["patch_size"],
        patch_size=case["patch_size"], num_register_tokens=case["num_register_tokens"],
        out_features=[f"stage{i}" for i in taps], num_windows=case["num_windows"],
        window_block_indexes=window_block_indexes, return_dict=False)
    encoder = windowed.WindowedDinov2WithRegistersBackbone(config)
    factors = {"P3": 2.0, "P4": 1.0, "P5": 0.5, "P6": 0.25}
    projector = projector_module.MultiScaleProjector(
        in_channels=[case["hidden_size"]] * len(taps), out_channels=case["out_channels"],
        scale_factors=[factors[s] for s in case["projector_scale"]],
        num_blocks=case["projector_blocks"], layer_norm=True)

    weights = read_safetensors(f"{case_dir}/weights.safetensors")
    for module, prefix in ((encoder, "backbone.0.encoder.encoder."), (projector, "backbone.0.projector.")):
        state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        module.load_state_dict(state, strict=True)
    encoder.eval()
    projector.eval()
    images = read_safetensors(f"{case_dir}/input.safetensors")["images"]
    with torch.no_grad():
        maps = list(encoder(images)[0])
        levels = projector(maps)
    out = {f"tap.{i}": m for i, m in enumerate(maps)}
    out.update({f"level.{i}": m for i, m in enumerate(levels)})
    write_safetensors(f"{case_dir}/reference.safetensors", out)


def main():
    torch.set_num_threads(1)
    source = sys.argv[1]
    install_transformers_stand_ins()
    windowed = load_source("rfdetr_windowed_dinov2", f"{source}/dinov2_with_windowed_attn.py")
    projector_module = load_source("rfdetr_projector", f"{source}/projector.py")
    for case_dir in sys.argv[2:]:
        run_case(windowed, projector_module, case_dir)


if __name__ == "__main__":
    main()
