"""The official losses that are not a network's own (P-norm, Lab colour, background, masks,
landmarks). CLIP, LPIPS and the Gram style loss live beside their networks."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import CheckpointError
from .imageio import write_atomically
from .labels import HAIR, N_CLASSES, PAINTABLE_CLASSES
from .networks.fan import JAW, NOSE
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


# ---------------------------------------------------------------------------------------


def painted_mask_loss(logits: torch.Tensor, painted_labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of parser logits (B, 16, p, p) against painted labels (B, p, p); only
    background, face, ear and hair count (weight 1, every other class 0)."""
    weight = torch.zeros(N_CLASSES, device=logits.device)
    weight[list(PAINTABLE_CLASSES)] = 1
    return F.cross_entropy(logits, painted_labels, weight=weight)


def hair_mask(parser, image: torch.Tensor) -> torch.Tensor:
    """Where the face parser sees hair in ``image`` (B, 3, S, S): (B, 1, S, S) float in {0, 1}."""
    return (parser(image).logits_full.argmax(1, keepdim=True) == HAIR).float()


def landmark_loss(source: torch.Tensor, generated: torch.Tensor, jaw_and_nose_only: bool) -> torch.Tensor:
    """MSE between (B, 68, h, w) heatmaps: jaw + nose (text proxy) or all points (reference)."""
    if jaw_and_nose_only:
        return F.mse_loss(generated[:, JAW], source[:, JAW]) + F.mse_loss(generated[:, NOSE], source[:, NOSE])
    return F.mse_loss(generated, source)


def background_loss(target: torch.Tensor, image: torch.Tensor, target_labels: torch.Tensor,
                    image_labels: torch.Tensor) -> torch.Tensor:
    """MSE outside the hair of both images (labels (B, 1, H, W) at the images' size)."""
    keep = ((target_labels != HAIR) & (image_labels != HAIR)).float()
    return F.mse_loss(target * keep, image * keep)


_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> CIE Lab, with the official white point normalisation
    (each XYZ row divided by its sum) and no gamma linearisation, as the official code."""
    matrix = _RGB_TO_XYZ.to(rgb)
    xyz = torch.einsum("nc,bchw->bnhw", matrix, rgb) / matrix.sum(1).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12).pow(1 / 3), 7.787 * xyz + 0.137931)
    lightness = torch.where(xyz[:, 1] > 0.008856, 116 * f[:, 1] - 16, 903.3 * xyz[:, 1])
    return torch.stack([lightness, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def mean_hair_lab(image: torch.Tensor, hair_mask: torch.Tensor) -> torch.Tensor:
    """Mean Lab colour (B, 3, 1, 1) of ``image`` [-1, 1] inside ``hair_mask`` (B, 1, H, W)."""
    lab = rgb_to_lab((image + 1) / 2) * hair_mask
    area = hair_mask.sum((2, 3), keepdim=True)
    return lab.sum((2, 3), keepdim=True) / torch.where(area == 0, torch.ones_like(area), area)


def lab_color_loss(target_lab: torch.Tensor, image: torch.Tensor, hair_mask: torch.Tensor) -> torch.Tensor:
    """L1 between a target mean Lab colour (B, 3, 1, 1) and the image's mean hair colour."""
    return F.l1_loss(mean_hair_lab(image, hair_mask), target_lab)


def rgb_target_lab(rgb: tuple[int, int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The Lab colour (1, 3, 1, 1) of an 8-bit RGB triple."""
    pixel = torch.tensor(rgb, dtype=torch.float32, device=device).view(1, 3, 1, 1) / 255
    return rgb_to_lab(pixel)


@checker("ffhq_PCA.npz")
def check_pca_file(path: Path) -> str:
    load_latent_pca(path)
    return "512-d PCA"
