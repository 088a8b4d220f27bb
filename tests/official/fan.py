"""face-alignment's FAN files: 1.5's 3DFAN4-7835d9f11d.pth.tar (the state dict of a 4-stack
FAN) and the TorchScript 3DFAN4-*.zip archives of 1.3 / 1.4 (what HairCLIPv2 ran)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .layout import batchnorm, random_state

BATCHNORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _conv_block(shapes, prefix, cin, cout):
    batchnorm(shapes, f"{prefix}.bn1", cin)
    shapes[f"{prefix}.conv1.weight"] = (cout // 2, cin, 3, 3)
    batchnorm(shapes, f"{prefix}.bn2", cout // 2)
    shapes[f"{prefix}.conv2.weight"] = (cout // 4, cout // 2, 3, 3)
    batchnorm(shapes, f"{prefix}.bn3", cout // 4)
    shapes[f"{prefix}.conv3.weight"] = (cout // 4, cout // 4, 3, 3)
    if cin != cout:
        batchnorm(shapes, f"{prefix}.downsample.0", cin)
        shapes[f"{prefix}.downsample.2.weight"] = (cout, cin, 1, 1)


def fan_shapes(num_modules: int = 4) -> dict:
    shapes: dict[str, tuple] = {"conv1.weight": (64, 3, 7, 7), "conv1.bias": (64,)}
    batchnorm(shapes, "bn1", 64)
    _conv_block(shapes, "conv2", 64, 128)
    _conv_block(shapes, "conv3", 128, 128)
    _conv_block(shapes, "conv4", 128, 256)
    for i in range(num_modules):
        for level in (4, 3, 2, 1):
            for name in ("b1", "b2", "b3") + (("b2_plus",) if level == 1 else ()):
                _conv_block(shapes, f"m{i}.{name}_{level}", 256, 256)
        _conv_block(shapes, f"top_m_{i}", 256, 256)
        shapes[f"conv_last{i}.weight"] = (256, 256, 1, 1)
        shapes[f"conv_last{i}.bias"] = (256,)
        batchnorm(shapes, f"bn_end{i}", 256)
        shapes[f"l{i}.weight"] = (68, 256, 1, 1)
        shapes[f"l{i}.bias"] = (68,)
        if i < num_modules - 1:
            shapes[f"bl{i}.weight"] = (256, 256, 1, 1)
            shapes[f"bl{i}.bias"] = (256,)
            shapes[f"al{i}.weight"] = (256, 68, 1, 1)
            shapes[f"al{i}.bias"] = (256,)
    return shapes


def write_fan(path, seed: int = 0, scaled: bool = False) -> dict:
    """``scaled``: see ``random_state``."""
    state = random_state(fan_shapes(), seed, scaled)
    torch.save(state, path)
    return state


class _ScriptedRoot(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def write_fan_torchscript(path, seed: int = 0) -> dict:
    """face-alignment 1.3 / 1.4's format: a TorchScript archive (traced, code included) whose
    module tree carries the tensors as attributes: parameters, and batch-norm statistics
    as buffers."""
    state = random_state(fan_shapes(), seed)
    root = _ScriptedRoot()
    for key, value in state.items():
        *owners, name = key.split(".")
        module = root
        for owner in owners:
            if owner not in module._modules:
                module.add_module(owner, nn.Module())
            module = module._modules[owner]
        if name in BATCHNORM_BUFFERS:
            module.register_buffer(name, value)
        else:
            module.register_parameter(name, nn.Parameter(value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, not gone
        torch.jit.trace(root, torch.zeros(1)).save(str(path))
    return state
