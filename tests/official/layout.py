"""Helpers for writing key -> shape tables of the official files, enumerated from a reading
of the official code (never from hairedit's modules)."""

from __future__ import annotations

import torch


def batchnorm(shapes: dict, prefix: str, channels: int) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{prefix}.{name}"] = (channels,)
    shapes[f"{prefix}.num_batches_tracked"] = ()


def random_state(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors of the given shapes; batch-norm statistics kept valid."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.05
    return state
