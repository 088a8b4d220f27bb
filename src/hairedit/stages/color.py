"""Step 6: the colour proxy, two stages, as the official ``ColorProxy``.

Stage 1 optimises the colour rows of the photo's latent, rendering from the (hairstyle-
edited) F, towards the colour (CLIP for text; mean Lab L1 for a reference photo or an RGB
value) while a background MSE keeps everything outside the hair. Stage 2 blends the
colour render's features after the colour block into the hairstyle render's inside the
grown hair mask, then optimises those features and the rows from that block on: MSE to
the colour render inside the hair, MSE to the hairstyle render outside, LPIPS inside.

As the official loops, each stage hands on the rows its last loss was computed for (the last
Adam update of the rows is discarded); stage 2 renders those rows with its features as
updated by that last step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ColorProxyConfig, LatentRows
from ..losses import background_loss, hair_mask, lab_color_loss, mean_hair_official_lab, rgb_target_lab
from ..labels import HAIR
from ..networks.stylegan2 import Synthesis
from ..progress import Reporter
from ._optimise import PartialLatent, Plateau, render, take_step
from .sketch import dilate_erode


@dataclass
class ColorTarget:
    """Exactly one of: text, a reference image (1, 3, S, S) in [-1, 1], an RGB triple."""

    text: str | None = None
    reference_image: torch.Tensor | None = None
    rgb: tuple[int, int, int] | None = None


@dataclass
class ColorResult:
    image: torch.Tensor  # final (1, 3, S, S)
    color_latent: torch.Tensor  # the colour proxy (stage 1's result)
    stage1_image: torch.Tensor | None  # its render from F, where stage 2 needed it
    hair_mask: torch.Tensor  # the grown hair mask used in stage 2, (1, 1, S, S)


def _lpips_features(components, image: torch.Tensor, loss_px: int | None) -> list[torch.Tensor]:
    """LPIPS features at full size (official), or, in the fast preset, of the image
    area-downsampled to ``loss_px``."""
    if loss_px is not None:
        image = F.interpolate(image, size=(loss_px, loss_px), mode="area")
    return components.lpips.features(image)


def _labels(components, image: torch.Tensor) -> torch.Tensor:
    return components.parser(image).labels_full()


def color_proxy(
    components,
    target: ColorTarget,
    hairstyle_image: torch.Tensor,
    source_latent: torch.Tensor,
    features: torch.Tensor,
    config: ColorProxyConfig,
    rows: LatentRows,
    reporter: Reporter,
    fast=None,
    color_latent: torch.Tensor | None = None,
    source_block: Synthesis | None = None,
    stop_px: int | None = None,
) -> ColorResult:
    """Recolour the hair of ``hairstyle_image`` (1, 3, S, S), the render of ``source_latent``
    (1, n, D) from ``features`` (F). ``color_latent``: a colour proxy made otherwise (the
    instant preset's mapper), in place of stage 1. ``source_block``: that render stopped after
    the colour block, when already computed. With ``config.stage2_steps`` 0 the blended
    features are rendered on as they are (the skip path continued), without stage 2; stage 1's
    image is then not rendered (``stage1_image`` None). ``stop_px``: the final image stops after
    that block (a preview), from the same features."""
    g = components.generator
    hairstyle_image = hairstyle_image.detach()
    if color_latent is None:
        color_latent = _stage1(components, target, hairstyle_image, source_latent, features, config, rows, reporter,
                               fast)
    with torch.no_grad():
        hair_mask = _grown_hair_mask(components, hairstyle_image, config)
        if source_block is None:
            source_block = g.synthesis(source_latent, start_features=features, stop_px=rows.color_features_px)
        blended, blended_image = _blend_color_block(g, source_block, color_latent, features, hair_mask)
    if config.stage2_steps == 0:
        with torch.no_grad():
            final = g.synthesis(source_latent, start_features=blended, stop_px=stop_px, start_image=blended_image).image
        return ColorResult(final, color_latent, None, hair_mask)
    with torch.no_grad():
        stage1_image = g.synthesis(color_latent, start_features=features).image
    final = _stage2(components, hairstyle_image, stage1_image, source_latent, blended, hair_mask, config, rows,
                    reporter, fast, stop_px)
    return ColorResult(final, color_latent, stage1_image, hair_mask)


def _stage1(components, target, hairstyle_image, source_latent, features, config, rows, reporter, fast):
    """The colour rows of the photo's latent, optimised rendering from F: the colour proxy."""
    g = components.generator
    loss_px = None if fast is None else fast.loss_px_for(g.size)
    # Stage 1 compares with the hairstyle image at the size its losses look at.
    hairstyle_small = (
        hairstyle_image if loss_px is None else F.interpolate(hairstyle_image, size=(loss_px, loss_px), mode="area")
    )
    with torch.no_grad():
        hairstyle_labels = _labels(components, hairstyle_small)
        if target.text is not None:
            text_features = components.clip.encode_text([target.text])
        elif target.reference_image is not None:
            reference_hair = hair_mask(components.parser, target.reference_image)
            target_lab = mean_hair_official_lab(target.reference_image, reference_hair)
        else:
            target_lab = rgb_target_lab(target.rgb, hairstyle_image.device)
    color_weight = config.reference_lambda if target.reference_image is not None else config.rgb_lambda

    latent = PartialLatent(source_latent, rows.color)
    optimizer = torch.optim.Adam([latent.free], lr=config.learning_rate)
    plateau = Plateau(fast)
    color_latent = latent.full().detach()
    for step in range(config.stage1_steps):
        full = latent.full()
        color_latent = full.detach()
        image = render(g, full, loss_px, start_features=features)
        labels = _labels(components, image) if config.reparse_each_step else hairstyle_labels
        loss = config.background_lambda * background_loss(hairstyle_small, image, hairstyle_labels, labels)
        if target.text is not None:
            loss = loss + config.clip_lambda * components.clip.loss(image, text_features, 1)
        else:
            loss = loss + color_weight * lab_color_loss(target_lab, image, (labels == HAIR).float())
        preview = lambda: g.synthesis(color_latent, start_features=features).image  # noqa: E731
        if take_step(optimizer, loss, plateau, reporter, "colour proxy", step + 1, config.stage1_steps, preview):
            break
    return color_latent


def _grown_hair_mask(components, hairstyle_image: torch.Tensor, config: ColorProxyConfig) -> torch.Tensor:
    """The hair of the hairstyle image, dilated then eroded, (1, 1, S, S) in {0, 1}."""
    hair = (components.parser(hairstyle_image).logits.argmax(1) == HAIR)[0].cpu().numpy().astype(np.uint8)
    grown = dilate_erode(hair, config.mask_dilate_px, config.mask_dilate_px // 2)
    grown = torch.from_numpy(grown).float().view(1, 1, *grown.shape).to(hairstyle_image.device)
    size = hairstyle_image.shape[-1]
    return F.interpolate(grown, size=(size, size)).round()


def _blend_color_block(g, source: Synthesis, color_latent, features, hair_mask):
    """The features (and skip images) after the colour block: the colour proxy's inside the
    grown hair mask (bicubic to the block's size), the source's (``source``) outside."""
    block_px = source.features.shape[-1]
    color = g.synthesis(color_latent, start_features=features, stop_px=block_px)
    weight = F.interpolate(hair_mask, size=(block_px, block_px), mode="bicubic", align_corners=False)
    blended = color.features * weight + source.features * (1 - weight)
    blended_image = color.image * weight + source.image * (1 - weight)
    return blended, blended_image


def _stage2(components, hairstyle_image, stage1_image, source_latent, blended, hair_mask, config, rows, reporter,
            fast, stop_px=None):
    """Refine the blended features and the rows from the colour block on: MSE to the colour
    render inside the hair, to the hairstyle render outside, LPIPS inside."""
    g = components.generator
    loss_px = None if fast is None else fast.loss_px_for(g.size)
    with torch.no_grad():
        stage1_features = _lpips_features(components, stage1_image * hair_mask, loss_px)
    latent = PartialLatent(source_latent, rows.color_final)
    blended.requires_grad_(True)  # optimised in place: a fresh no-grad leaf, no second copy at 256 px
    optimizer = torch.optim.Adam([latent.free, blended], lr=config.learning_rate)
    plateau = Plateau(fast)
    final_latent = latent.full().detach()
    for step in range(config.stage2_steps):
        full = latent.full()
        final_latent = full.detach()
        image = g.synthesis(full, start_features=blended).image
        loss = config.hair_mse_lambda * F.mse_loss(image * hair_mask, stage1_image * hair_mask)
        loss = loss + config.not_hair_mse_lambda * F.mse_loss(
            image * (1 - hair_mask), hairstyle_image * (1 - hair_mask)
        )
        hair_features = _lpips_features(components, image * hair_mask, loss_px)
        loss = loss + config.hair_lpips_lambda * components.lpips.distance(hair_features, stage1_features).sum()
        preview = lambda: g.synthesis(final_latent, start_features=blended.detach()).image  # noqa: E731
        if take_step(optimizer, loss, plateau, reporter, "colour blending", step + 1, config.stage2_steps, preview):
            break
    with torch.no_grad():
        return g.synthesis(final_latent, start_features=blended, stop_px=stop_px).image
