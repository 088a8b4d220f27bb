"""sketch_proxy.pt: a whole E2Style model; HairCLIPv2 reads "encoder_firststage.*" and opts.input_nc."""

from __future__ import annotations

import argparse

import torch

from .ir_se import ir_se_50_shapes
from .layout import batchnorm, random_state


def first_stage_shapes(input_nc: int = 1) -> dict:
    backbone = ir_se_50_shapes(input_nc)
    # The order of the official state dict (values are drawn in this order).
    shapes = {key: shape for key, shape in backbone.items() if key.startswith("input_layer.")}
    for name, channels, rows in (("output_layer_3", 256, 9), ("output_layer_4", 128, 5), ("output_layer_5", 64, 4)):
        batchnorm(shapes, f"{name}.0", channels)
        shapes[f"{name}.3.weight"] = (512 * rows, channels * 49)
        shapes[f"{name}.3.bias"] = (512 * rows,)
    shapes.update({key: shape for key, shape in backbone.items() if key.startswith("body.")})
    return shapes


def write_sketch_proxy(path, input_nc: int = 1, opts_as_namespace: bool = False, seed: int = 0) -> dict:
    encoder = random_state(first_stage_shapes(input_nc), seed)
    state = {f"encoder_firststage.{key}": value for key, value in encoder.items()}
    # Parts of the E2Style model HairCLIPv2 does not use.
    state["decoder.style.1.weight"] = torch.randn(512, 512)
    state["encoder_refinestage_list.0.input_layer.0.weight"] = torch.randn(64, 6, 3, 3)
    opts = {"input_nc": input_nc, "output_size": 1024, "training_stage": 1}
    checkpoint = {"state_dict": state, "opts": argparse.Namespace(**opts) if opts_as_namespace else opts}
    torch.save(checkpoint, path)
    return checkpoint
