"""Step 3: the bald proxy: one forward of HairMapper's mapper, no optimisation."""

from __future__ import annotations

import torch

from ..config import LatentRows
from ..networks.bald_mapper import BaldMapper


@torch.no_grad()
def bald_latent(mapper: BaldMapper, latent: torch.Tensor, rows: LatentRows, alpha_scale: float = 1.2) -> torch.Tensor:
    """``latent`` (1, n, D) with rows ``rows.bald`` moved by ``alpha_scale * alpha * mapper(rows)``."""
    bald = latent.clone()
    edited = slice(rows.bald.start, rows.bald.stop)
    bald[:, edited] += alpha_scale * mapper.alpha * mapper(latent[:, edited])
    return bald
