"""Helpers for writing key -> shape tables of the official files, enumerated from a reading
of the official code (never from hairedit's modules)."""

from __future__ import annotations

import math

import torch


def batchnorm(shapes: dict, prefix: str, channels: int) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{prefix}.{name}"] = (channels,)
    shapes[f"{prefix}.num_batches_tracked"] = ()


def random_state(shapes: dict[str, tuple], seed: int = 0, scaled: bool = False) -> dict[str, torch.Tensor]:
    """Random tensors of the given shapes; batch-norm statistics kept valid.

    ``scaled``: instead of 0.05 everywhere, weights scaled like a trained network's, so that
    activations keep their size through every layer and the output depends on every part of the
    input (for golden values): matrices and kernels N(0, gain^2 / fan-in) (gain sqrt(2) for
    kernels, which ReLUs follow), 1-D weights (norm scales) 1 + N(0, 0.1^2), other vectors
    N(0, 0.1^2).
    """
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif not scaled:
            state[key] = torch.randn(shape, generator=g) * 0.05
        elif len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            gain = math.sqrt(2) if len(shape) > 2 else 1.0
            state[key] = torch.randn(shape, generator=g) * (gain / math.sqrt(fan_in))
        elif key.endswith(".weight"):
            state[key] = 1 + torch.randn(shape, generator=g) * 0.1
        else:
            state[key] = torch.randn(shape, generator=g) * 0.1
    return state
