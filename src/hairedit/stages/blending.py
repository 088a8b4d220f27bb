"""Step 5: hairstyle blending in F, as the official ``hairstyle_feature_blending``.

In order: the bald proxy's F replaces the photo's where the photo's hair and ears are
(grown by dilate/erode); the global proxy's (text or reference) F where that proxy's own
hair is; the local proxy's (sketch) F inside its stroke mask. Masks reach F's size by
bicubic resizing. The result renders from F with the photo's latent, with fixed noise.

As in the official code, the proxies' F are computed with fresh noise (``noise``, a stream
of the edit's seed, when ``config.random_noise``), drawn bald, global, local in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..config import BlendingConfig, LatentRows
from ..labels import EAR, HAIR
from ..networks.stylegan2 import Synthesis
from .inversion import Inversion
from .sketch import dilate_erode


@dataclass
class HairstyleBlend:
    """features: blended F; image: its render (1, 3, S, S); colour_block: that render stopped
    after the colour block (where the colour stage starts); masks at the parser's size."""

    features: torch.Tensor
    image: torch.Tensor
    colour_block: Synthesis
    bald_mask: torch.Tensor | None
    global_hair_mask: torch.Tensor | None
    global_image: torch.Tensor | None  # the global proxy's render, when its hair was parsed from it


@torch.no_grad()
def render_features(
    generator, latent: torch.Tensor, features: torch.Tensor, kept_px: int, stop_px: int | None = None
) -> tuple[torch.Tensor, Synthesis]:
    """The image ``latent`` renders from F ``features`` (stopped after the block at ``stop_px``,
    default the full size), and that synthesis as it stood after the block at ``kept_px``
    (features and skip image): the colour stage starts from it instead of running those blocks
    again. Continued from there, synthesis gives the image rendered in one go bit for bit."""
    kept = generator.synthesis(latent, start_features=features, stop_px=kept_px)
    if stop_px is not None and stop_px <= kept_px:
        return generator.synthesis(latent, start_features=features, stop_px=stop_px).image, kept
    image = generator.synthesis(latent, start_features=kept.features, stop_px=stop_px, start_image=kept.image).image
    return image, kept


@torch.no_grad()
def proxy_features(generator, latent: torch.Tensor, rows: LatentRows, noise: torch.Generator | None) -> torch.Tensor:
    """A proxy's F, its noise drawn from ``noise`` (None: the fixed noise)."""
    return generator.synthesis(latent, stop_px=rows.features_px, noise=noise).features


def to_feature_size(mask: torch.Tensor, size_px: int) -> torch.Tensor:
    return F.interpolate(mask.float(), size=(size_px, size_px), mode="bicubic", align_corners=False)


def bald_blend_mask(source_labels: torch.Tensor, config: BlendingConfig) -> torch.Tensor:
    """Hair + ear of the photo (labels (1, 1, p, p)), grown: where the bald features go."""
    hair_and_ear = ((source_labels == HAIR) | (source_labels == EAR))[0, 0].cpu().numpy().astype(np.uint8)
    grown = dilate_erode(hair_and_ear, config.bald_dilate_px, config.bald_erode_px)
    return torch.from_numpy(grown).float().view(1, 1, *grown.shape).to(source_labels.device)


@torch.no_grad()
def blend_hairstyle(
    components,
    source: Inversion,
    source_labels: torch.Tensor,
    rows: LatentRows,
    config: BlendingConfig,
    bald: torch.Tensor | None = None,
    global_latent: torch.Tensor | None = None,
    local_latent: torch.Tensor | None = None,
    local_mask: torch.Tensor | None = None,
    noise: torch.Generator | None = None,
    global_hair: torch.Tensor | None = None,
    bald_features: torch.Tensor | None = None,
    image_px: int | None = None,
) -> HairstyleBlend:
    """``source_labels``: the photo's parse (1, 1, p, p) at the parser's size (the official
    ``seg(img)[1]``); ``local_mask``: (1, 1, h, w) in {0, 1}; ``noise``: the stream the
    proxies' F draw their noise from (None: the fixed noise); ``global_hair``: where the
    global proxy's F goes, (1, 1, h, w) in {0, 1} (default: the proxy's own hair, parsed);
    ``bald_features``: the bald proxy's F when already drawn (:func:`proxy_features`, from the
    start of ``noise``, which then goes on from there); ``image_px``: the render stops after
    that block (a preview; default the full size)."""
    g = components.generator
    size = rows.features_px
    features = source.features
    bald_mask = global_image = None
    noise = noise if config.random_noise else None

    def features_of(latent: torch.Tensor) -> torch.Tensor:
        return proxy_features(g, latent, rows, noise)

    if global_latent is not None:
        if bald_features is None:
            bald_features = features_of(bald)
        global_features = features_of(global_latent)
        bald_mask = bald_blend_mask(source_labels, config)
        weight = to_feature_size(bald_mask, size)
        features = bald_features * weight + features * (1 - weight)
        if global_hair is None:
            global_image = g(global_latent)
            global_hair = (components.parser(global_image).logits.argmax(1, keepdim=True) == HAIR).float()
        weight = to_feature_size(global_hair, size)
        features = global_features * weight + features * (1 - weight)
    if local_latent is not None:
        weight = to_feature_size(local_mask, size)
        features = features_of(local_latent) * weight + features * (1 - weight)
    image, colour_block = render_features(g, source.latent, features, rows.color_features_px, image_px)
    return HairstyleBlend(features, image, colour_block, bald_mask, global_hair, global_image)
