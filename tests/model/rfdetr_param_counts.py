#!/usr/bin/env python3
"""Parameter counts of RF-DETR's published models, as RF-DETR's own code builds them.

    python3 tests/model/rfdetr_param_counts.py --src DIR

DIR holds RF-DETR's `rfdetr` package (1.4.1). For every published size this reads the size's
configuration class from rfdetr/config.py (RFDETRNanoConfig, ..., RFDETRSeg2XLargeConfig), builds
the model the way RFDETR.get_model does (populate_args(**config), build_model) on the CPU without
pretrained weights, and prints `"rfdetr-<size>": <parameter count>` lines for
tests/model/variants_test.cpp.

Needs PyTorch, torchvision and scipy, plus what rfdetr.models imports from transformers and peft
(the real packages, or stand-ins providing those names). pydantic is not needed: a minimal
stand-in below gives the config classes their declared defaults.
"""
import argparse
import ast
import os
import sys
import types

SIZES = {
    "rfdetr-nano": "RFDETRNanoConfig",
    "rfdetr-small": "RFDETRSmallConfig",
    "rfdetr-medium": "RFDETRMediumConfig",
    "rfdetr-base": "RFDETRBaseConfig",
    "rfdetr-large": "RFDETRLargeConfig",
    "rfdetr-seg-nano": "RFDETRSegNanoConfig",
    "rfdetr-seg-small": "RFDETRSegSmallConfig",
    "rfdetr-seg-medium": "RFDETRSegMediumConfig",
    "rfdetr-seg-large": "RFDETRSegLargeConfig",
    "rfdetr-seg-xlarge": "RFDETRSegXLargeConfig",
    "rfdetr-seg-2xlarge": "RFDETRSeg2XLargeConfig",
}


def install_pydantic_stand_in():
    """BaseModel whose instances read their fields' declared defaults (all RF-DETR's configs need)."""
    module = types.ModuleType("pydantic")

    class BaseModel:
        def __init__(self, **values):
            self.__dict__.update(values)

        def model_dump(self):
            fields = {}
            for cls in reversed(type(self).__mro__):
                for name in getattr(cls, "__annotations__", {}):
                    fields[name] = getattr(self, name)
            return fields

    module.BaseModel = BaseModel
    module.field_validator = lambda *a, **k: (lambda f: f)
    sys.modules["pydantic"] = module


def load_rfdetr(src):
    """rfdetr.models, rfdetr.config and populate_args, without rfdetr/__init__.py's imports."""
    package = types.ModuleType("rfdetr")
    package.__path__ = [os.path.join(src, "rfdetr")]
    sys.modules["rfdetr"] = package
    for name in ("supervision", "roboflow", "pycocotools", "pycocotools.coco", "pycocotools.cocoeval",
                 "pycocotools.mask"):
        sys.modules.setdefault(name, types.ModuleType(name))
    main_source = open(os.path.join(src, "rfdetr", "main.py")).read()
    function = next(node for node in ast.parse(main_source).body
                    if isinstance(node, ast.FunctionDef) and node.name == "populate_args")
    namespace = {"argparse": argparse}
    exec(compile(ast.Module(body=[function], type_ignores=[]), "populate_args", "exec"), namespace)
    install_pydantic_stand_in()
    import rfdetr.config
    from rfdetr.models import build_model
    return rfdetr.config, namespace["populate_args"], build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="folder holding RF-DETR's `rfdetr` package")
    options = parser.parse_args()
    config, populate_args, build_model = load_rfdetr(os.path.abspath(options.src))
    for size, class_name in SIZES.items():
        fields = getattr(config, class_name)().model_dump()
        # No weights: 'none' also keeps build_model from fetching DINOv2's (it does when None).
        fields.update(device="cpu", pretrain_weights="none", force_no_pretrain=True)
        args = populate_args(**fields)
        model = build_model(args)
        print(f'"{size}": {sum(p.numel() for p in model.parameters())},', flush=True)


if __name__ == "__main__":
    main()
