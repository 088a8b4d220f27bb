"""Step 1: invert the photo into StyleGAN (II2S in W+, then FS), cached on disk.

II2S: all W+ rows start at the mean latent; Adam; MSE at full size + LPIPS at a quarter of
it (256 px for 1024) + P-norm. FS: F starts as the features of the W+ result after the F
block; F and the rows after F's convolutions are optimised, the coarse rows stay, same
losses. As the official code, inversion renders with random noise.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..checkpoints import read_checkpoint
from ..config import InversionConfig, LatentRows
from ..errors import HaireditError
from ..losses import LatentPCA
from ..networks.stylegan2 import Generator
from ..networks.vgg import LPIPS
from ..progress import Reporter
from ..resample import bicubic_downsample
from ._optimise import Plateau, take_step


@dataclass
class Inversion:
    """latent: (1, n_latent, D) W+ after FS; features: F (1, C, r, r); w_latent: the II2S W+."""

    latent: torch.Tensor
    features: torch.Tensor
    w_latent: torch.Tensor


def image_tensor(image: np.ndarray, size_px: int, device: torch.device | str) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> (1, 3, size, size) in [-1, 1], Lanczos-resized as the official code."""
    if image.shape[0] != size_px:
        image = np.asarray(Image.fromarray(image).resize((size_px, size_px), Image.LANCZOS))
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(127.5).sub(1)
    return tensor.unsqueeze(0).to(device)


class Inverter:
    def __init__(
        self,
        generator: Generator,
        lpips: LPIPS,
        pca: LatentPCA,
        mean_latent: torch.Tensor,
        config: InversionConfig,
        rows: LatentRows,
        cache_dir: Path | None = None,
        fast=None,
    ):
        """``fast``: a ``config.FastConfig`` for the fast preset, None for the official path."""
        self.generator, self.lpips, self.pca = generator, lpips, pca
        self.mean_latent, self.config, self.rows = mean_latent, config, rows
        self.cache_dir, self.fast = cache_dir, fast
        size = generator.size
        # Official: MSE on the full image, LPIPS on it bicubic-downsampled to a quarter.
        # Fast: both on the generator's skip image at loss_px (a quarter of the size).
        self.loss_px = None if fast is None else fast.loss_px_for(size)
        self.image_px = self.loss_px or size
        self.lpips_factor = 1 if fast else max(1, size // max(config.lpips_size_px * size // 1024, 32))

    # -- losses --------------------------------------------------------------------------

    def _loss(
        self, generated: torch.Tensor, target: torch.Tensor, target_features: list[torch.Tensor], latent: torch.Tensor
    ) -> torch.Tensor:
        c = self.config
        loss = c.l2_lambda * F.mse_loss(generated, target)
        features = self.lpips.features(bicubic_downsample(generated, self.lpips_factor))
        loss = loss + c.percept_lambda * self.lpips.distance(features, target_features).sum()
        return loss + c.p_norm_lambda * self.pca.p_norm(latent)

    def _targets(self, image: np.ndarray) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The image the MSE compares with, and the LPIPS features of its downsampled copy."""
        device = self.mean_latent.device
        with torch.no_grad():
            target_features = self.lpips.features(image_tensor(image, self.image_px // self.lpips_factor, device))
        return image_tensor(image, self.image_px, device), target_features

    def _noise(self) -> str | None:
        return "random" if self.config.random_noise else None

    # -- II2S and FS ---------------------------------------------------------------------

    def invert_w(self, image: np.ndarray, reporter: Reporter, stage: str = "inversion (W+)") -> torch.Tensor:
        """II2S: the W+ latent (1, n_latent, D) of an aligned RGB uint8 crop."""
        cached = self._cache_load(image, "w")
        if cached is not None:
            return cached["w_latent"]
        target, target_features = self._targets(image)
        latent = self.mean_latent.detach().view(1, 1, -1).repeat(1, self.generator.n_latent, 1).requires_grad_(True)
        optimizer = torch.optim.Adam([latent], lr=self.config.learning_rate)
        steps, plateau = self.config.w_steps, Plateau(self.fast)
        for step in range(steps):
            generated = self.generator.synthesis(latent, stop_px=self.loss_px, noise=self._noise()).image
            loss = self._loss(generated, target, target_features, latent)
            if take_step(
                optimizer, loss, plateau, reporter, stage, step + 1, steps, lambda: self.generator(latent.detach())
            ):
                break
        w_latent = latent.detach()
        self._cache_save(image, "w", {"w_latent": w_latent})
        return w_latent

    def invert(self, image: np.ndarray, reporter: Reporter) -> Inversion:
        """II2S then FS: the source's W+ latent and its F features."""
        cached = self._cache_load(image, "fs")
        if cached is not None:
            return Inversion(cached["latent"], cached["features"], cached["w_latent"])
        w_latent = self.invert_w(image, reporter)
        target, target_features = self._targets(image)
        features = self.generator.synthesis(w_latent, stop_px=self.rows.features_px, noise=self._noise()).features
        features = features.detach().requires_grad_(True)
        free = list(self.rows.fs_free)
        fixed_rows = w_latent[:, : free[0]]
        free_rows = w_latent[:, free[0] :].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([free_rows, features], lr=self.config.learning_rate)
        steps, plateau = self.config.fs_steps, Plateau(self.fast)
        for step in range(steps):
            latent = torch.cat([fixed_rows, free_rows], 1)
            generated = self.generator.synthesis(
                latent, start_features=features, stop_px=self.loss_px, noise=self._noise()
            ).image
            loss = self._loss(generated, target, target_features, latent)
            if take_step(
                optimizer,
                loss,
                plateau,
                reporter,
                "inversion (FS)",
                step + 1,
                steps,
                lambda: (
                    self.generator.synthesis(
                        torch.cat([fixed_rows, free_rows], 1).detach(), start_features=features.detach()
                    ).image
                ),
            ):
                break
        result = Inversion(torch.cat([fixed_rows, free_rows], 1).detach(), features.detach(), w_latent)
        self._cache_save(image, "fs", asdict(result))
        return result

    # -- cache ---------------------------------------------------------------------------

    def _cache_path(self, image: np.ndarray, kind: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(image).tobytes())
        settings = (kind, image.shape, sorted(asdict(self.config).items()), self.rows.fs_free, repr(self.fast))
        digest.update(repr(settings).encode())
        digest.update(generator_fingerprint(self.generator).encode())
        return self.cache_dir / f"{kind}-{digest.hexdigest()[:32]}.pt"

    def _cache_load(self, image: np.ndarray, kind: str) -> dict | None:
        path = self._cache_path(image, kind)
        if path is None or not path.is_file():
            return None
        try:
            data = read_checkpoint(path)
        except HaireditError:
            path.unlink(missing_ok=True)  # a damaged cache entry is recomputed
            return None
        device = self.mean_latent.device
        return {key: value.to(device) for key, value in data.items()}

    def _cache_save(self, image: np.ndarray, kind: str, tensors: dict) -> None:
        path = self._cache_path(image, kind)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        torch.save({key: value.detach().cpu() for key, value in tensors.items()}, temporary)
        temporary.replace(path)


def generator_fingerprint(generator: Generator) -> str:
    """A short hash of the generator's weights (a few tensors suffice to tell checkpoints apart)."""
    digest = hashlib.sha256(repr((generator.size, generator.style_dim)).encode())
    for name in ("input.input", "conv1.conv.weight", "style.1.weight"):
        tensor = generator.state_dict()[name]
        digest.update(tensor.detach().float().cpu().numpy().tobytes()[:65536])
    return digest.hexdigest()[:16]
