"""Per-set numbers: means with 95% intervals, FID and FID_CLIP with bootstrap intervals.

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to the Inception
pool features of two image sets; FID_CLIP (Kynkäänniemi et al. 2023) the same on CLIP
ViT-B/32 image embeddings. Both need many images to mean much (papers use thousands): with a
few dozen they mostly measure the sample, so compare presets on one set, never across sets.
Their 95% intervals are percentile bootstrap intervals: the edits (each a pair of images,
before and after) drawn again with replacement, ``BOOTSTRAP_SAMPLES`` times from a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from .pixels import mse_of_psnr, psnr_of_mse

BATCH = 8  # crops through a network at a time
BOOTSTRAP_SAMPLES = 200  # resamplings of a set for the interval of its FID


@dataclass(frozen=True)
class Interval:
    """mean ± half_width (95%, Student's t) over ``count`` values; half_width nan below two."""

    mean: float
    half_width: float
    count: int


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% interval of ``values``; undefined ones (nan: not measured) are left out,
    and ``count`` says how many went in. An infinite value makes the mean infinite (its
    interval nan): PSNR, the one metric that can be infinite, is summarised by :func:`psnr_interval`."""
    defined = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if len(defined) == 0:
        return Interval(float("nan"), float("nan"), 0)
    if len(defined) == 1 or not np.isfinite(defined).all():
        return Interval(float(defined.sum()), float("nan"), len(defined))  # the value, or the infinities' sign
    half = stats.t.ppf(0.975, len(defined) - 1) * defined.std(ddof=1) / math.sqrt(len(defined))
    return Interval(float(defined.mean()), float(half), len(defined))


def psnr_interval(values_db: Sequence[float]) -> Interval:
    """A set's PSNR: the PSNR of its edits' mean squared error, as torchmetrics computes PSNR
    over a set (it pools every pixel's error; here each edit counts once). Identical edits (an
    infinite PSNR, no error) count too: a mean of the dB values would have to leave them out,
    and so rank a set with some perfect edits below one without. The 95% interval of the mean
    error is carried to dB to first order (half-width ``10 / ln 10 * h / mean``); nan (not
    measured) values are left out."""
    errors = mean_interval([mse_of_psnr(value) for value in values_db if value is not None and not math.isnan(value)])
    if errors.count == 0:
        return errors
    half_db = 10 / math.log(10) * errors.half_width / errors.mean if errors.mean > 0 else float("nan")
    return Interval(psnr_of_mse(errors.mean), half_db, errors.count)


@dataclass(frozen=True)
class SetInterval:
    """A statistic of a whole set (FID) with its 95% percentile bootstrap interval [low, high]
    over ``count`` edits; low and high nan below three edits."""

    value: float
    low: float
    high: float
    count: int


def frechet_interval(after: np.ndarray, before: np.ndarray, seed: int = 0,
                     samples: int = BOOTSTRAP_SAMPLES) -> SetInterval:
    """FID of ``after`` (N, D) against ``before`` (N, D), row i of each one edit, with the 95%
    interval of the edits drawn again with replacement (seeded: the same set, the same interval).
    A draw that holds fewer than two distinct edits is drawn again."""
    count = len(after)
    value = frechet_distance(after, before)
    if count < 3:
        return SetInterval(value, float("nan"), float("nan"), count)
    rng = np.random.default_rng(seed)
    values = []
    while len(values) < samples:
        chosen = rng.integers(0, count, count)
        if len(np.unique(chosen)) >= 2:
            values.append(frechet_distance(after[chosen], before[chosen]))
    low, high = np.percentile(values, [2.5, 97.5])
    return SetInterval(value, float(low), float(high), count)


@torch.no_grad()
def embed(network: Callable[[torch.Tensor], torch.Tensor], crops: Sequence[np.ndarray], device) -> np.ndarray:
    """(N, D) float64 features of the crops (S, S, 3) uint8, fed as [-1, 1] tensors in batches."""
    features = []
    for start in range(0, len(crops), BATCH):
        batch = np.stack(crops[start : start + BATCH])
        images = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)
        features.append(network(images).double().cpu().numpy())
    return np.concatenate(features)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to features ``a`` (N, D) and ``b`` (M, D),
    ``|mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^1/2)``; nan with fewer than two of either.

    ``tr((C_a C_b)^1/2)`` is the sum of the singular values of ``A B^T`` over
    ``sqrt((N - 1)(M - 1))``, with ``A``, ``B`` the centred features: exact (the nonzero
    eigenvalues of ``A^T A B^T B`` are those of ``(A B^T)(A B^T)^T``) and, for the usual sets
    smaller than D, far cheaper and steadier than a D x D matrix square root.
    """
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    centred_a, centred_b = a - a.mean(0), b - b.mean(0)
    scale = math.sqrt((len(a) - 1) * (len(b) - 1))
    if len(a) * len(b) <= a.shape[1] ** 2:
        cross = np.linalg.svd(centred_a @ centred_b.T / scale, compute_uv=False).sum()
    else:
        cross = _trace_sqrt_product(np.cov(a, rowvar=False), np.cov(b, rowvar=False))
    mean_term = float(np.sum((a.mean(0) - b.mean(0)) ** 2))
    traces = (centred_a**2).sum() / (len(a) - 1) + (centred_b**2).sum() / (len(b) - 1)
    return max(0.0, mean_term + float(traces) - 2 * float(cross))


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """``tr((C_a C_b)^1/2)`` for (D, D) covariances: the eigenvalues of ``C_a^1/2 C_b C_a^1/2``."""
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    return float(np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum())
