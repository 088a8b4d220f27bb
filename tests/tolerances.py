"""Tolerances from floating-point error analysis, so that comparisons pass on every machine
(any summation order, any SIMD width) and fail on any change of the maths."""

from __future__ import annotations

import math

import torch


def rounding_tolerance(dtype: torch.dtype, magnitude: float, reduction: int, layers: int, safety: float = 8.0) -> float:
    """The largest difference rounding alone can explain between two evaluations of the same
    maths in ``dtype``, for values up to ``magnitude``.

    Each layer's values are sums of ``reduction`` products; rounded, such a sum carries an
    error that behaves like a random walk of ``reduction`` steps of the unit roundoff u
    (probabilistic rounding error analysis, Higham & Mary 2019): about sqrt(reduction) * u
    relative to the values summed. ``layers`` such sums in sequence, each adding its own
    error to what it passes on, give sqrt(reduction * layers) * u. Demodulation keeps the
    activations of every layer at the scale of the output, so ``magnitude`` (the largest value
    compared) is the scale of the summands too (where a network normalises its activations;
    elsewhere pass the scale of the summands). ``safety`` covers the spread of the random-walk
    model (its errors stay within a few standard deviations) and the float64 reference's own
    error. For a 64 px generator in float32 this is about 3e-5 of the largest value; a change
    in the maths (a filter tap, a padding, a demodulation) moves values by far more.
    """
    unit_roundoff = torch.finfo(dtype).eps / 2
    return safety * unit_roundoff * math.sqrt(reduction * layers) * magnitude


def assert_within_rounding(ours: torch.Tensor, exact: torch.Tensor, dtype: torch.dtype, reduction: int, layers: int):
    """``ours`` (computed in ``dtype``) equals ``exact`` (float64) up to ``dtype``'s rounding."""
    tolerance = rounding_tolerance(dtype, exact.abs().max().item(), reduction, layers)
    torch.testing.assert_close(ours.double(), exact.double(), rtol=0, atol=tolerance)
