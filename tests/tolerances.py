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


def resampling_tolerance(picture: torch.Tensor, magnification: float = 3.0, safety: float = 4.0) -> float:
    """The largest difference float32 rounding of sampling positions can explain between two
    bilinear resamplings of ``picture`` (..., H, W) at the same positions.

    Positions computed in float32 in [-1, 1] coordinates (as grid_sample takes them) are off by
    up to u32 there: u32 (size - 1) / 2 pixels, times the warp's ``magnification`` (a strong
    perspective squeezes an edge to 0.3 of its length: ~3). Bilinear interpolation turns a
    position error d into a value error of at most d times the largest step between neighbouring
    pixels; ``safety`` covers the arithmetic of the four-term samples.
    """
    steps = max(picture.diff(dim=-1).abs().max().item(), picture.diff(dim=-2).abs().max().item())
    position_px = torch.finfo(torch.float32).eps / 2 * (max(picture.shape[-2:]) - 1) / 2
    return safety * magnification * position_px * steps
