"""Step 4c: the sketch proxy: the encoder's latent for the strokes, and where to blend it."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

from ..config import SketchProxyConfig


def dilate_erode(mask: np.ndarray, dilate_px: int, erode_px: int) -> np.ndarray:
    """Grow a {0, 1} uint8 mask with a dilate_px square, then shrink it with an erode_px square
    (the official ``dliate_erode``, whose erosion is half its dilation)."""
    grown = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (dilate_px, dilate_px)))
    return cv2.erode(grown, cv2.getStructuringElement(cv2.MORPH_RECT, (erode_px, erode_px)))


@torch.no_grad()
def sketch_proxy(components, sketch: np.ndarray, config: SketchProxyConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """sketch: (canvas, canvas) uint8, strokes > 0 on black (official: grey 128, 2 px, 512 canvas).

    Returns the latent (1, n, D) = encoder(sketch at 256 px, in [0, 1]) + mean latent, and the
    local blending mask (1, 1, canvas, canvas) float: the strokes dilated then eroded.
    """
    device = components.mean_latent.device
    small = np.array(Image.fromarray(sketch).resize((config.encoder_input_px,) * 2, Image.BILINEAR))
    sketch_tensor = torch.from_numpy(small).float().div(255).view(1, 1, *small.shape).to(device)
    latent = components.sketch_encoder(sketch_tensor) + components.mean_latent.view(1, 1, -1)
    strokes = (sketch > 0).astype(np.uint8)
    local = dilate_erode(strokes, config.dilate_px, config.erode_px)
    return latent, torch.from_numpy(local).float().view(1, 1, *local.shape).to(device)
