"""The IR-SE-50 backbone of the pSp family (``models/encoders/helpers.py``: ``get_blocks(50)``,
``bottleneck_IR_SE``), as E2Style and encoder4editing name it: ``input_layer.*``, ``body.0-23.*``."""

from __future__ import annotations

from .layout import batchnorm

# get_blocks(50): (in_channel, depth, units) per stage; the first unit of a stage has stride 2.
IR_SE_50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))


def ir_se_50_shapes(input_nc: int) -> dict:
    shapes: dict[str, tuple] = {}
    shapes["input_layer.0.weight"] = (64, input_nc, 3, 3)
    batchnorm(shapes, "input_layer.1", 64)
    shapes["input_layer.2.weight"] = (64,)
    index = 0
    for in_channel, depth, units in IR_SE_50_STAGES:
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


def prelu_keys(shapes: dict) -> list[str]:
    """The PReLU slopes among the backbone's keys."""
    return [key for key in shapes if key == "input_layer.2.weight" or key.endswith(".res_layer.2.weight")]
