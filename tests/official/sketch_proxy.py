"""sketch_proxy.pt: a whole E2Style model; HairCLIPv2 reads "encoder_firststage.*" and opts.input_nc."""

from __future__ import annotations

import argparse

import torch

from .layout import batchnorm, random_state


def first_stage_shapes(input_nc: int = 1) -> dict:
    shapes: dict[str, tuple] = {}
    shapes["input_layer.0.weight"] = (64, input_nc, 3, 3)
    batchnorm(shapes, "input_layer.1", 64)
    shapes["input_layer.2.weight"] = (64,)
    for name, channels, rows in (("output_layer_3", 256, 9), ("output_layer_4", 128, 5), ("output_layer_5", 64, 4)):
        batchnorm(shapes, f"{name}.0", channels)
        shapes[f"{name}.3.weight"] = (512 * rows, channels * 49)
        shapes[f"{name}.3.bias"] = (512 * rows,)
    index = 0
    for in_channel, depth, units in ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)):
        for unit in range(units):
            cin = in_channel if unit == 0 else depth
            prefix = f"body.{index}"
            if cin != depth:
                shapes[f"{prefix}.shortcut_layer.0.weight"] = (depth, cin, 1, 1)
                batchnorm(shapes, f"{prefix}.shortcut_layer.1", depth)
            batchnorm(shapes, f"{prefix}.res_layer.0", cin)
            shapes[f"{prefix}.res_layer.1.weight"] = (depth, cin, 3, 3)
            shapes[f"{prefix}.res_layer.2.weight"] = (depth,)
            shapes[f"{prefix}.res_layer.3.weight"] = (depth, depth, 3, 3)
            batchnorm(shapes, f"{prefix}.res_layer.4", depth)
            shapes[f"{prefix}.res_layer.5.fc1.weight"] = (depth // 16, depth, 1, 1)
            shapes[f"{prefix}.res_layer.5.fc2.weight"] = (depth, depth // 16, 1, 1)
            index += 1
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
