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
    """Random tensors of the given shapes; batch-norm statistics kept valid. ``scaled``: those
    of :func:`scaled_random_state` (for golden values) instead of 0.05 everywhere."""
    if scaled:
        return scaled_random_state(shapes, seed)
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


def scaled_random_state(
    shapes: dict[str, tuple], seed: int = 0, slope_keys=(), unscaled_keys=(), input_first_keys=()
) -> dict[str, torch.Tensor]:
    """Random tensors that keep activations of order one through deep networks, so that
    numbers computed with them are meaningful evidence (neither vanishing nor overflowing):

    - tensors of 2+ dimensions ~ N(0, 1 / fan_in), fan_in = the product of all dimensions
      but the first (the first alone for ``input_first_keys``, matrices used as ``x @ W``);
    - ``unscaled_keys`` ~ N(0, 1) (equalised layers that scale their weight at run time);
    - 1-D ``*.weight`` (norm gains) ~ 1 + N(0, 0.1^2); ``slope_keys`` (PReLU) ~ 0.25 + N(0, 0.05^2);
    - running variances ~ U(0.5, 1.5); every other tensor (biases, means) ~ N(0, 0.1^2).

    Values are drawn in the order of ``shapes`` from one generator seeded with ``seed``.
    """
    g = torch.Generator().manual_seed(seed)
    slope_keys, unscaled_keys, input_first_keys = set(slope_keys), set(unscaled_keys), set(input_first_keys)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.int64)
            continue
        if key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
            continue
        normal = torch.randn(shape, generator=g)
        if key in unscaled_keys:
            state[key] = normal
        elif len(shape) >= 2:
            fan_in = shape[0] if key in input_first_keys else math.prod(shape[1:])
            state[key] = normal.div_(math.sqrt(fan_in))
        elif key in slope_keys:
            state[key] = normal.mul_(0.05).add_(0.25)
        elif len(shape) == 1 and key.endswith(".weight"):
            state[key] = normal.mul_(0.1).add_(1)
        else:
            state[key] = normal.mul_(0.1)
    return state


def compact_state(shapes: dict[str, tuple], value: float = 0.01) -> dict[str, torch.Tensor]:
    """Every key at its exact shape, each tensor one stored number expanded (stride 0):
    the layout of a large file at a few kilobytes, for tests of keys and shapes only."""
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.int64)
        else:
            state[key] = torch.full((), value).expand(shape)
    return state
