"""Steps 4 and 6 of the instant preset: hairstyle and colour proxies in one forward pass of
HairCLIP's mapper, in place of the text, reference and colour optimisations.

The mapper moves the photo's own W+ (the encoder's inversion): its coarse and medium rows
towards the hairstyle (a text, or a reference photo's hair), its fine rows towards the
colour (a text, or a reference photo's hair; an RGB value as the photo's own hair recoloured
to it, :func:`recoloured_hair`). The result is the global hairstyle proxy, blended in F as
the text or reference proxy is, and, through its colour rows, the colour proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import hair_mask
from ..networks.hairclip_mapper import HairCLIP


@dataclass
class MapperCondition:
    """One condition for the mapper: a text, or an aligned photo (1, 3, S, S) in [-1, 1] whose
    hair (``hair_mask`` (1, 1, S, S), or the face parser's) shows what is wanted."""

    text: str | None = None
    image: torch.Tensor | None = None
    hair_mask: torch.Tensor | None = None


@torch.no_grad()
def reference_hair_embedding(components, hairclip: HairCLIP, condition: MapperCondition) -> torch.Tensor:
    """The CLIP embedding (1, D) of a reference photo's hair."""
    hair = condition.hair_mask
    if hair is None:
        hair = hair_mask(components.parser, condition.image)
    return hairclip.reference_embedding(condition.image, hair)


MIN_HAIR_FRACTION = 0.01  # less hair than this in the photo: the colour is shown as a plain field


@torch.no_grad()
def recoloured_hair(image: torch.Tensor, hair: torch.Tensor, rgb: tuple[int, int, int]) -> MapperCondition:
    """A colour reference for an RGB colour, which no trained network takes: the photo's own
    hair (``image`` (1, 3, S, S) in [-1, 1], ``hair`` (1, 1, S, S)) recoloured so that its
    mean is ``rgb``, each pixel keeping its luminance relative to the hair's mean (the strands'
    light and shade). A photo with almost no hair gives a plain field of the colour."""
    target = torch.tensor(rgb, dtype=image.dtype, device=image.device).view(1, 3, 1, 1) / 255
    if hair.mean() < MIN_HAIR_FRACTION:
        return MapperCondition(image=target.expand_as(image) * 2 - 1, hair_mask=torch.ones_like(hair))
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    luminance = (((image + 1) / 2) * luma).sum(1, keepdim=True)
    mean_luminance = (luminance * hair).sum() / hair.sum()
    recoloured = (target * luminance / mean_luminance.clamp_min(1e-3)).clamp(0, 1) * 2 - 1
    return MapperCondition(image=recoloured * hair + image * (1 - hair), hair_mask=hair)


@torch.no_grad()
def mapper_latent(
    components,
    latent: torch.Tensor,
    hairstyle: MapperCondition | None,
    color: MapperCondition | None,
    strength: float,
) -> torch.Tensor:
    """``latent`` (1, n, D) moved by HairCLIP towards ``hairstyle`` and/or ``color``."""
    hairclip = components.hairclip

    def embedding(condition: MapperCondition | None, embed_text) -> torch.Tensor | None:
        if condition is None:
            return None
        if condition.text is not None:
            return embed_text(condition.text)
        return reference_hair_embedding(components, hairclip, condition)

    return hairclip.edit(
        latent,
        embedding(hairstyle, hairclip.hairstyle_text_embedding),
        embedding(color, hairclip.color_text_embedding),
        strength,
    )


def with_color_rows(source_latent: torch.Tensor, edited: torch.Tensor, color_rows: range) -> torch.Tensor:
    """The colour proxy: ``source_latent`` with its colour rows taken from ``edited``."""
    color_latent = source_latent.clone()
    color_latent[:, color_rows.start : color_rows.stop] = edited[:, color_rows.start : color_rows.stop]
    return color_latent
