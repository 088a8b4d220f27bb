"""Step 4b: the reference proxy: the reference photo's own latent, reshaped to the photo's face.

The reference is inverted in W+ (II2S). Its first rows are optimised, the rest kept:
masked Gram style loss of the hair at 256 px + MSE of those rows to their previous step's
values + all 68 landmark heatmaps against the photo's + (optional) painted-mask loss. As the
official loop, it hands on the latent its last loss was computed for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import LatentRows, ReferenceProxyConfig
from ..losses import hair_mask, landmark_loss, painted_mask_loss
from ..progress import Reporter
from ._optimise import PartialLatent, Plateau, render, take_step


def _image_and_hair_256(components, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # The official code resizes with F.interpolate's default (nearest) for both.
    with torch.no_grad():
        hair = hair_mask(components.parser, image)
    return F.interpolate(image, size=(256, 256)), F.interpolate(hair, size=(256, 256))


def reference_proxy(
    components,
    reference_latent: torch.Tensor,
    reference_image: torch.Tensor,
    source_image: torch.Tensor,
    config: ReferenceProxyConfig,
    rows: LatentRows,
    reporter: Reporter,
    painted_labels: torch.Tensor | None = None,
    fast=None,
) -> torch.Tensor:
    """The reference proxy latent (1, n, D) from the reference's W+ latent and aligned image."""
    g = components.generator
    reference_256, reference_hair_256 = _image_and_hair_256(components, reference_image)
    with torch.no_grad():
        source_heatmaps = components.landmarks(source_image)
    latent = PartialLatent(reference_latent, rows.reference)
    previous = latent.free.detach().clone()
    optimizer = torch.optim.Adam([latent.free], lr=config.learning_rate)
    loss_px = None if fast is None else fast.loss_px_for(g.size)
    plateau = Plateau(fast)
    step_start_latent = latent.full().detach()
    for step in range(config.steps):
        full = latent.full()
        step_start_latent = full.detach()
        image = render(g, full, loss_px)
        image_256, hair_256 = _image_and_hair_256(components, image)
        loss = config.style_lambda * components.style_loss(reference_256, image_256, reference_hair_256, hair_256)
        loss = loss + config.delta_lambda * F.mse_loss(latent.free, previous)
        loss = loss + config.landmark_lambda * landmark_loss(source_heatmaps, components.landmarks(image), False)
        if painted_labels is not None:
            loss = loss + config.mask_lambda * painted_mask_loss(components.parser(image).logits, painted_labels)
        previous = latent.free.detach().clone()
        preview = lambda: g(step_start_latent)  # noqa: E731
        if take_step(optimizer, loss, plateau, reporter, "reference proxy", step + 1, config.steps, preview):
            break
    return step_start_latent
