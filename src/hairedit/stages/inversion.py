"""Step 1: invert the photo into StyleGAN (II2S in W+, then FS), cached on disk.

II2S: all W+ rows start at the mean latent; Adam; MSE at full size + LPIPS at a quarter of
it (256 px for 1024) + P-norm. FS: F starts as the features of the W+ result after the F
block; F and the rows after F's convolutions are optimised, the coarse rows stay, same
losses. As the official code, inversion renders with fresh noise every step (drawn from the
edit's seeded streams), and each loop hands on the latent as it stood at the start of its
last step (the official loops keep ``latent_in``, so the last Adam update is discarded; FS
hands on those rows with F as updated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import seeding
from ..cache import InversionCache, cache_key
from ..config import FastConfig, InversionConfig, LatentRows
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
        seed: int = 0,
        cache: InversionCache | None = None,
        fast: FastConfig | None = None,
        cache_context: tuple = (),
    ):
        """``fast``: the fast preset's settings, None for the official path. ``cache_context``:
        what else changes the result and must be in the cache key (network fingerprints,
        precision)."""
        self.generator, self.lpips, self.pca = generator, lpips, pca
        self.mean_latent, self.config, self.rows = mean_latent, config, rows
        self.seed, self.cache, self.fast, self.cache_context = seed, cache, fast, cache_context
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

    def _noise(self, stream: str) -> torch.Generator | None:
        """Fresh noise from the edit's ``stream`` (official), or the fixed buffers."""
        return seeding.stream(self.seed, stream, self.mean_latent.device) if self.config.random_noise else None

    # -- II2S and FS ---------------------------------------------------------------------

    def invert_w(self, image: np.ndarray, reporter: Reporter, stage: str = "inversion (W+)") -> torch.Tensor:
        """II2S: the W+ latent (1, n_latent, D) of an aligned RGB uint8 crop."""
        cached = self._cache_load(image, "w")
        if cached is not None:
            return cached["w_latent"]
        target, target_features = self._targets(image)
        latent = self.mean_latent.detach().view(1, 1, -1).repeat(1, self.generator.n_latent, 1).requires_grad_(True)
        optimizer = torch.optim.Adam([latent], lr=self.config.learning_rate)
        steps, plateau, noise = self.config.w_steps, Plateau(self.fast), self._noise(seeding.INVERSION_W)
        handed_on = latent.detach().clone()
        for step in range(steps):
            handed_on = latent.detach().clone()
            generated = self.generator.synthesis(latent, stop_px=self.loss_px, noise=noise).image
            loss = self._loss(generated, target, target_features, latent)
            if take_step(optimizer, loss, plateau, reporter, stage, step + 1, steps, lambda: self.generator(handed_on)):
                break
        self._cache_save(image, "w", {"w_latent": handed_on})
        return handed_on

    def invert(
        self, image: np.ndarray, reporter: Reporter, encode: Callable[[], torch.Tensor] | None = None
    ) -> Inversion:
        """II2S (or ``encode()``, an encoder's W+ of the image) then FS: the source's W+
        latent and its F features."""
        cached = self._cache_load(image, "fs")
        if cached is not None:
            return Inversion(cached["latent"], cached["features"], cached["w_latent"])
        w_latent = self.invert_w(image, reporter) if encode is None else encode()
        target, target_features = self._targets(image)
        noise = self._noise(seeding.INVERSION_FS)
        features = self.generator.synthesis(w_latent, stop_px=self.rows.features_px, noise=noise).features
        features = features.detach().requires_grad_(True)
        free = self.rows.fs_free
        fixed_rows = w_latent[:, : free.start]
        free_rows = w_latent[:, free.start :].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([free_rows, features], lr=self.config.learning_rate)
        steps, plateau = self.config.fs_steps, Plateau(self.fast)
        handed_on = w_latent
        for step in range(steps):
            latent = torch.cat([fixed_rows, free_rows], 1)
            handed_on = latent.detach()
            generated = self.generator.synthesis(
                latent, start_features=features, stop_px=self.loss_px, noise=noise
            ).image
            loss = self._loss(generated, target, target_features, latent)
            preview = lambda: self.generator.synthesis(handed_on, start_features=features.detach()).image  # noqa: E731
            if take_step(optimizer, loss, plateau, reporter, "inversion (FS)", step + 1, steps, preview):
                break
        result = Inversion(handed_on, features.detach(), w_latent)
        self._cache_save(image, "fs", asdict(result))
        return result

    # -- cache ---------------------------------------------------------------------------

    def _cache_key(self, image: np.ndarray, kind: str) -> str:
        image = np.ascontiguousarray(image)
        settings = (kind, image.shape, asdict(self.config), self.rows, self.fast, self.seed, self.cache_context)
        return cache_key(image.tobytes(), settings, self.mean_latent.device.type)

    def _cache_load(self, image: np.ndarray, kind: str) -> dict | None:
        if self.cache is None:
            return None
        return self.cache.load(self._cache_key(image, kind), self.mean_latent.device)

    def _cache_save(self, image: np.ndarray, kind: str, tensors: dict) -> None:
        if self.cache is not None:
            self.cache.save(self._cache_key(image, kind), tensors)
