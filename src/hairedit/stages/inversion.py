"""Step 1: invert the photo into StyleGAN (II2S in W+, or the e4e encoder in the instant
preset; then FS), cached on disk.

II2S: all W+ rows start at the mean latent; Adam; MSE at full size + LPIPS at a quarter of
it (256 px for 1024) + P-norm. FS: F starts as the features of the W+ result after the F
block; F and the rows after F's convolutions are optimised, the coarse rows stay, same
losses. As the official code, inversion renders with fresh noise every step (drawn from the
edit's seeded streams), and each loop hands on the latent as it stood at the start of its
last step (the official loops keep ``latent_in``, so the last Adam update is discarded; FS
hands on those rows with F as updated).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import seeding
from ..cache import InversionCache, cache_key
from ..config import FastConfig, InversionConfig, LatentRows
from ..networks.e4e_encoder import e4e_input
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
        components,
        config: InversionConfig,
        rows: LatentRows,
        seed: int = 0,
        cache: InversionCache | None = None,
        fast: FastConfig | None = None,
        encoder: bool = False,
        cache_context: tuple = (),
    ):
        """``components``: the networks, each taken when first used (the generator always;
        LPIPS and the PCA prior only where a loop runs; the e4e encoder with ``encoder``).
        ``encoder``: the photo's W+ from the e4e encoder (instant preset) instead of II2S.
        ``fast``: the fast preset's settings, None for the official path. ``cache_context``:
        what else changes the result and must be in the cache key (precision, compiled
        synthesis, torch version); the networks' fingerprints are added here."""
        self.components, self.generator, self.mean_latent = components, components.generator, components.mean_latent
        self.config, self.rows, self.seed, self.cache, self.fast = config, rows, seed, cache, fast
        self.encoder, self.cache_context = encoder, cache_context
        size = self.generator.size
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
        lpips = self.components.lpips
        features = lpips.features(bicubic_downsample(generated, self.lpips_factor))
        loss = loss + c.percept_lambda * lpips.distance(features, target_features).sum()
        return loss + c.p_norm_lambda * self.components.pca.p_norm(latent)

    def _targets(self, image: np.ndarray) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The image the MSE compares with, and the LPIPS features of its downsampled copy."""
        device, lpips = self.mean_latent.device, self.components.lpips
        with torch.no_grad():
            target_features = lpips.features(image_tensor(image, self.image_px // self.lpips_factor, device))
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
        latent = self.mean_latent.detach().view(1, 1, -1).repeat(1, self.generator.n_latent, 1).requires_grad_(True)
        optimizer = torch.optim.Adam([latent], lr=self.config.learning_rate)
        steps, plateau, noise = self.config.w_steps, Plateau(self.fast), self._noise(seeding.INVERSION_W)
        target, target_features = self._targets(image) if steps else (None, None)
        step_start_latent = latent.detach().clone()
        for step in range(steps):
            step_start_latent = latent.detach().clone()
            generated = self.generator.synthesis(latent, stop_px=self.loss_px, noise=noise).image
            loss = self._loss(generated, target, target_features, latent)
            preview = lambda: self.generator(step_start_latent)  # noqa: E731
            if take_step(optimizer, loss, plateau, reporter, stage, step + 1, steps, preview):
                break
        self._cache_save(image, "w", {"w_latent": step_start_latent})
        return step_start_latent

    def invert(self, image: np.ndarray, reporter: Reporter) -> Inversion:
        """II2S (or the e4e encoder) then FS: the source's W+ latent and its F features."""
        cached = self._cache_load(image, "fs")
        if cached is not None:
            return Inversion(cached["latent"], cached["features"], cached["w_latent"])
        if self.encoder:
            with reporter.stage("inversion (encoder)"), torch.no_grad():
                w_latent = self.components.e4e(e4e_input(image, self.mean_latent.device))
        else:
            w_latent = self.invert_w(image, reporter)
        steps = self.config.fs_steps
        target, target_features = self._targets(image) if steps else (None, None)
        noise = self._noise(seeding.INVERSION_FS)
        features = self.generator.synthesis(w_latent, stop_px=self.rows.features_px, noise=noise).features
        features = features.detach().requires_grad_(True)
        free = self.rows.fs_free
        fixed_rows = w_latent[:, : free.start]
        free_rows = w_latent[:, free.start :].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([free_rows, features], lr=self.config.learning_rate)
        plateau = Plateau(self.fast)
        step_start_latent = w_latent
        for step in range(steps):
            latent = torch.cat([fixed_rows, free_rows], 1)
            step_start_latent = latent.detach()
            generated = self.generator.synthesis(
                latent, start_features=features, stop_px=self.loss_px, noise=noise
            ).image
            loss = self._loss(generated, target, target_features, latent)
            preview = lambda: self.generator.synthesis(  # noqa: E731
                step_start_latent, start_features=features.detach()
            ).image
            if take_step(optimizer, loss, plateau, reporter, "inversion (FS)", step + 1, steps, preview):
                break
        result = Inversion(step_start_latent, features.detach(), w_latent)
        self._cache_save(image, "fs", asdict(result))
        return result

    # -- cache ---------------------------------------------------------------------------

    def _networks(self, kind: str) -> tuple:
        """Fingerprints of the networks an inversion of ``kind`` ("w": II2S, "fs": the whole)
        depends on: the generator; the losses where a loop runs; the encoder where it is used.
        Only these are loaded: an instant edit needs neither LPIPS nor the PCA."""
        c, steps = self.components, self.config
        encoded = self.encoder and kind == "fs"
        w_loop = steps.w_steps > 0 and not encoded
        loops = w_loop if kind == "w" else w_loop or steps.fs_steps > 0
        return (c.generator_fingerprint, c.inversion_loss_fingerprint if loops else None,
                c.e4e_fingerprint if encoded else None)

    def _cache_key(self, image: np.ndarray, kind: str) -> str:
        image = np.ascontiguousarray(image)
        settings = (kind, image.shape, asdict(self.config), self.rows, self.fast, self.seed, self._networks(kind),
                    self.cache_context)
        return cache_key(image.tobytes(), settings, self.mean_latent.device.type)

    def _cache_load(self, image: np.ndarray, kind: str) -> dict | None:
        if self.cache is None:
            return None
        return self.cache.load(self._cache_key(image, kind), self.mean_latent.device)

    def _cache_save(self, image: np.ndarray, kind: str, tensors: dict) -> None:
        if self.cache is not None:
            self.cache.save(self._cache_key(image, kind), tensors)
