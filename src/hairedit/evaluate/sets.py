"""Per-set numbers: means with 95% intervals, FID and FID_CLIP.

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to the Inception
pool features of two image sets; FID_CLIP (Kynkäänniemi et al. 2023) the same on CLIP
ViT-B/32 image embeddings. Both need many images to mean much (papers use thousands): with a
few dozen they mostly measure the sample, so compare presets on one set, never across sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

BATCH = 8  # crops through a network at a time


@dataclass(frozen=True)
class Interval:
    """mean ± half_width (95%, Student's t) over ``count`` values; half_width nan below two."""

    mean: float
    half_width: float
    count: int


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% interval of the finite ``values``: undefined (nan) and infinite ones (PSNR
    of identical pixels) are left out, and ``count`` says how many went in."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return Interval(float("nan"), float("nan"), 0)
    if len(finite) == 1:
        return Interval(float(finite[0]), float("nan"), 1)
    half = stats.t.ppf(0.975, len(finite) - 1) * finite.std(ddof=1) / math.sqrt(len(finite))
    return Interval(float(finite.mean()), float(half), len(finite))


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
