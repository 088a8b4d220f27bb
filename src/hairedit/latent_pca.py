"""The PCA of mapped latents behind the P-norm prior (Barbershop's ``ffhq_PCA.npz``): the
official file read without unpickling, or the same PCA computed from the generator."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import write_atomically
from .errors import CheckpointError
from .weights.checks import checker


@dataclass
class LatentPCA:
    """PCA of mapped latents in the LeakyReLU(5) space (Barbershop's ``ffhq_PCA.npz``).

    mean: (1, D); components: (D, D), one per row; stdev: (D,).
    """

    mean: torch.Tensor
    components: torch.Tensor
    stdev: torch.Tensor

    def to(self, device: torch.device | str) -> LatentPCA:
        return LatentPCA(self.mean.to(device), self.components.to(device), self.stdev.to(device))

    def p_norm(self, latent: torch.Tensor) -> torch.Tensor:
        """Mean square of the whitened latent; ``latent`` (B, n, D)."""
        whitened = (F.leaky_relu(latent, 5.0) - self.mean) @ self.components.T / self.stdev
        return whitened.pow(2).mean()

    def save(self, path: str | Path) -> None:
        """Write the official layout: X_mean (D,) float32, X_comp (D, D), X_stdev (D,) and
        X_var_ratio (D,) float64. Atomically, replacing any file at ``path``: an interrupted
        write leaves no half file behind."""
        variance = self.stdev.double().square()
        arrays = {
            "X_mean": self.mean.reshape(-1).cpu().numpy().astype(np.float32),
            "X_comp": self.components.cpu().numpy().astype(np.float64),
            "X_stdev": self.stdev.cpu().numpy().astype(np.float64),
            "X_var_ratio": (variance / variance.sum()).cpu().numpy(),
        }
        write_atomically(path, lambda handle: np.savez(handle, **arrays), overwrite=True)


def load_latent_pca(path: str | Path, style_dim: int = 512) -> LatentPCA:
    """Read ``ffhq_PCA.npz`` without unpickling.

    The official file holds X_mean (D,) float32, X_comp (D, D), X_stdev (D,) and X_var_ratio
    (D,) float64; X_mean (1, D) is accepted too. The official code uses them in float32.
    """
    expected = {"X_mean": (style_dim,), "X_comp": (style_dim, style_dim), "X_stdev": (style_dim,)}
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in expected}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a latent PCA file with X_mean, X_comp, X_stdev ({error}). Delete it and download it again."
        ) from error
    arrays["X_mean"] = arrays["X_mean"].reshape(-1) if arrays["X_mean"].shape == (1, style_dim) else arrays["X_mean"]
    for key, shape in expected.items():
        if arrays[key].shape != shape or arrays[key].dtype.kind != "f":
            raise CheckpointError(
                f"{path}: {key} is {arrays[key].dtype} {arrays[key].shape}, expected floats of shape {shape}."
            )
        if not np.isfinite(arrays[key]).all():
            raise CheckpointError(f"{path}: {key} holds NaN or infinite values; the file is damaged.")
    if (arrays["X_stdev"] <= 0).any():
        raise CheckpointError(f"{path}: X_stdev must be positive; the file is damaged.")
    tensors = {key: torch.from_numpy(value.astype(np.float32)) for key, value in arrays.items()}
    return LatentPCA(tensors["X_mean"].view(1, -1), tensors["X_comp"], tensors["X_stdev"])


@torch.no_grad()
def compute_latent_pca(generator, n_samples: int = 100_000, seed: int = 0) -> LatentPCA:
    """The PCA from the generator's own mapping network, as Barbershop built ffhq_PCA.npz."""
    g = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    chunks = []
    for start in range(0, n_samples, 10_000):
        z = torch.randn(min(10_000, n_samples - start), generator.style_dim, generator=g).to(device)
        chunks.append(F.leaky_relu(generator.map(z), 5.0).double().cpu())
    samples = torch.cat(chunks)
    mean = samples.mean(0, keepdim=True)
    _, singular, components = torch.linalg.svd(samples - mean, full_matrices=False)
    stdev = singular / np.sqrt(len(samples) - 1)
    return LatentPCA(mean.float(), components.float(), stdev.float())


@checker("ffhq_PCA.npz")
def check_pca_file(path: Path) -> str:
    load_latent_pca(path)
    return "512-d PCA"
