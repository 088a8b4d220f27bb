"""ffhq_PCA.npz as the official repository ships it: X_mean (512,) float32, X_comp (512, 512),
X_stdev (512,) and X_var_ratio (512,) float64 (2,108,402 bytes with these dtypes)."""

from __future__ import annotations

import numpy as np


def write_pca(path, seed: int = 0, dim: int = 512) -> None:
    rng = np.random.default_rng(seed)
    components, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    stdev = np.sort(rng.uniform(0.5, 5.0, dim))[::-1]
    np.savez(
        path,
        X_mean=rng.standard_normal(dim).astype(np.float32),
        X_comp=components.T.astype(np.float64),
        X_stdev=stdev.astype(np.float64),
        X_var_ratio=(stdev**2 / (stdev**2).sum()).astype(np.float64),
    )
