"""Filling a region of a photo: LaMa on a box around it at LaMa's working resolution, or
OpenCV's classical inpainting where the LaMa file is absent; pasted back with a soft edge.

Only the pixels of the returned region can change; every other pixel of the photo is the
original, bit for bit. The region is the hole grown by ``feather_px``: the hole itself is
replaced outright, and over the ring around it the fill fades into the photo (smoothstep), so
no seam shows where it meets what was kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

LAMA_WORKING_SIZE_PX = 512  # the long side LaMa sees at most (big-lama was trained on 256-512 px crops)
CONTEXT_FRACTION = 0.5  # the box reaches past the region by this share of its size (at least 16 px)
OPENCV_RADIUS_PX = 5  # Telea's neighbourhood, at the working resolution
OPENCV_WORKING_SIZE_PX = 1024  # Telea's cost grows with the hole's area: work on at most this long a side


class Inpainter(Protocol):
    """Fills ``hole`` (h, w) bool of ``image`` (h, w, 3) uint8; returns (h, w, 3) uint8 with
    the original outside the hole."""

    working_size_px: int

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray: ...


class LamaInpainter:
    """big-lama (:mod:`hairedit.networks.lama`) on its device."""

    working_size_px = LAMA_WORKING_SIZE_PX

    def __init__(self, generator):
        self.generator = generator

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        import torch

        from .networks.lama import lama_inpaint

        device = next(self.generator.parameters()).device
        pixels = torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float() / 255
        mask = torch.from_numpy(hole.astype(np.float32)).to(device)[None, None]
        with torch.no_grad():
            filled = lama_inpaint(self.generator, pixels, mask)
        filled = (filled[0].permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        return np.where(hole[..., None], filled, image)


class OpenCVInpainter:
    """Telea's fast marching method (``cv2.inpaint``): smooth colour, no texture."""

    working_size_px = OPENCV_WORKING_SIZE_PX

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        filled = cv2.inpaint(image, hole.astype(np.uint8), OPENCV_RADIUS_PX, cv2.INPAINT_TELEA)
        return np.where(hole[..., None], filled, image)


LAMA_MISSING = (
    "the LaMa file big-lama.ckpt is not in the weights folder, so the hair past the crop was filled by OpenCV's "
    "inpainting (smooth colour, no texture); for LaMa run `hairedit weights download big-lama.ckpt` "
    "(or choose --inpaint opencv to silence this)"
)


class LamaWhenNeeded:
    """big-lama, loaded when the first hole is filled (an edit whose hair leaves nothing to fill
    never reads its 200 MB). ``load()`` gives the network, or None where its file is absent:
    OpenCV fills then, and ``warning`` says so."""

    def __init__(self, load: Callable[[], object | None]):
        self._load = load
        self._chosen: Inpainter | None = None
        self.warning: str | None = None

    def _inpainter(self) -> Inpainter:
        if self._chosen is None:
            generator = self._load()
            if generator is None:
                self._chosen, self.warning = OpenCVInpainter(), LAMA_MISSING
            else:
                self._chosen = LamaInpainter(generator)
        return self._chosen

    @property
    def working_size_px(self) -> int:
        return self._inpainter().working_size_px

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return self._inpainter()(image, hole)


def choose_inpainter(method: str, load_lama: Callable[[], object | None]) -> Inpainter | None:
    """The inpainter for ``method`` ("lama", "opencv", "none": no inpainting). "lama" loads
    big-lama (``load_lama()``) at its first fill, and falls back to OpenCV with a warning for the
    user (its ``warning``) where the file is absent."""
    if method == "none":
        return None
    if method == "opencv":
        return OpenCVInpainter()
    return LamaWhenNeeded(load_lama)


@dataclass
class Inpainted:
    image: np.ndarray  # (H, W, 3) uint8, the photo with the region filled
    region: np.ndarray  # (H, W) bool, the pixels that may differ from the photo: hole + feather ring


def inpaint_photo(photo: np.ndarray, hole: np.ndarray, inpainter: Inpainter, feather_px: int) -> Inpainted:
    """Fill ``hole`` (H, W) bool of ``photo`` (H, W, 3) uint8.

    The inpainter works on a box around the hole (with context around it), brought to at most
    its working size; the fill is brought back to the photo's resolution and blended over the
    hole grown by ``feather_px``. Pixels outside that grown hole are the photo's, bit for bit.
    """
    out = photo.copy()
    region = _grow(hole, feather_px)
    if not region.any():
        return Inpainted(out, region)
    left, top, right, bottom = _context_box(region)
    box_photo = photo[top:bottom, left:right]
    box_region = region[top:bottom, left:right]
    box_h, box_w = box_region.shape
    scale = min(1.0, inpainter.working_size_px / max(box_h, box_w))
    work_w, work_h = max(8, round(box_w * scale)), max(8, round(box_h * scale))
    small = cv2.resize(box_photo, (work_w, work_h), interpolation=cv2.INTER_AREA) if scale < 1 else box_photo
    # The inpainter fills the whole grown hole: the feather ring then fades from fill to photo.
    small_hole = cv2.resize(box_region.astype(np.uint8), (work_w, work_h), interpolation=cv2.INTER_NEAREST) > 0
    # Reduced, the hole grows by 2 px: what rounding lost, and the reach of the (bilinear, so
    # never overshooting) enlargement below: the whole hole comes back from filled pixels only.
    small_hole = _grow(small_hole, 2) if scale < 1 else small_hole
    filled = inpainter(small, small_hole)
    if scale < 1:
        filled = cv2.resize(filled, (box_w, box_h), interpolation=cv2.INTER_LINEAR)
    weight = _feather_weights(hole[top:bottom, left:right], box_region, feather_px)
    blended = box_photo.astype(np.float32) + weight[..., None] * (filled.astype(np.float32) - box_photo)
    box_out = out[top:bottom, left:right]
    box_out[box_region] = np.clip(np.rint(blended[box_region]), 0, 255).astype(np.uint8)
    return Inpainted(out, region)


def _grow(mask: np.ndarray, radius_px: int) -> np.ndarray:
    if radius_px <= 0:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _context_box(region: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the region's bounding box grown by CONTEXT_FRACTION of its size."""
    left, top, width, height = cv2.boundingRect(region.astype(np.uint8))
    pad_x = max(16, round(width * CONTEXT_FRACTION))
    pad_y = max(16, round(height * CONTEXT_FRACTION))
    photo_h, photo_w = region.shape
    return max(0, left - pad_x), max(0, top - pad_y), min(photo_w, left + width + pad_x), min(photo_h, top + height + pad_y)


def _feather_weights(hole: np.ndarray, region: np.ndarray, feather_px: int) -> np.ndarray:
    """1 on the hole, falling (smoothstep) to 0 at the region's outer edge; 0 outside the region."""
    if feather_px <= 0:
        return hole.astype(np.float32)
    outside_hole = (~hole).astype(np.uint8)
    distance = cv2.distanceTransform(outside_hole, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(1.0 - distance / (feather_px + 1), 0.0, 1.0)
    weight = ramp * ramp * (3.0 - 2.0 * ramp)
    weight[~region] = 0.0
    return weight.astype(np.float32)
