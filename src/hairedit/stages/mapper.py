"""Steps 4 and 6 of the instant preset: hairstyle and colour proxies in one forward pass of
HairCLIP's mapper, in place of the text, reference and colour optimisations.

The mapper moves the photo's own W+ (the encoder's inversion): its coarse and medium rows
towards the hairstyle (a text, or a reference photo's hair), its fine rows towards the
colour (a text, or a reference photo's hair). The result is the global hairstyle proxy,
blended in F as the text or reference proxy is, and, through its colour rows, the colour
proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..labels import HAIR
from ..networks.hairclip_mapper import HairCLIP


@dataclass
class MapperCondition:
    """One condition for the mapper: a text, or an aligned photo (1, 3, S, S) in [-1, 1]."""

    text: str | None = None
    image: torch.Tensor | None = None


@torch.no_grad()
def reference_hair_embedding(components, hairclip: HairCLIP, image: torch.Tensor) -> torch.Tensor:
    """The CLIP embedding (1, D) of a reference photo's hair, masked by the face parser's hair."""
    hair = (components.parser(image).logits_full.argmax(1, keepdim=True) == HAIR).float()
    return hairclip.reference_embedding(image, hair)


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
        return reference_hair_embedding(components, hairclip, condition.image)

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
