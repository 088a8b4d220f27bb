"""Putting the edited crop back into the whole photo.

Only the region the edit may change is touched: a mask in crop coordinates (hair before and
after the edit, grown by a margin) is feathered, limited to the crop's interior, and
carried into the photo with the crop's transform. Every pixel where that mask is zero is the
original, bit for bit. Hair that reaches past the crop is outside the region and stays as it
was (see docs/faces.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from .align import AlignedFace

FEATHER_FRACTION = 0.02  # feather width as a share of the crop side (20 px at 1024)


def feathered_region(edit_region: np.ndarray) -> np.ndarray:
    """(S, S) mask in [0, 1] -> the same, softened at its edges and faded out towards the crop border."""
    size = edit_region.shape[0]
    feather = max(2, int(round(size * FEATHER_FRACTION)))
    region = cv2.GaussianBlur(edit_region.astype(np.float32), (0, 0), feather / 2)
    region = np.where(edit_region > 0.5, np.maximum(region, 0.0), region)
    ramp = np.clip((np.minimum(np.arange(size), np.arange(size)[::-1]) - 1) / feather, 0, 1).astype(np.float32)
    region = region * ramp[None, :] * ramp[:, None]
    region[region < 1 / 512] = 0  # below half a grey level: leave the photo untouched
    return np.clip(region, 0, 1)


def paste_back(photo: np.ndarray, aligned: AlignedFace, edited_crop: np.ndarray, edit_region: np.ndarray) -> np.ndarray:
    """The photo (H, W, 3) uint8 with ``edited_crop`` (S, S, 3) blended in where ``edit_region`` (S, S) > 0.

    ``edited_crop`` may have any size; ``edit_region`` is resized to it.
    """
    size = edited_crop.shape[0]
    if edit_region.shape[:2] != (size, size):
        edit_region = cv2.resize(edit_region.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    alpha = feathered_region(edit_region)
    scale = aligned.transform.size_px / size
    crop_to_photo = aligned.transform.crop_to_photo.copy()
    crop_to_photo[:, :2] *= scale
    crop_to_photo[:, 2] += (scale - 1) / 2 * (crop_to_photo[:, 0] + crop_to_photo[:, 1]) / scale

    # Work in the photo's bounding box of the region only: cheap for 8000x6000 photos.
    ys, xs = np.nonzero(alpha)
    out = photo.copy()
    if len(xs) == 0:
        return out
    corners = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.min(), ys.max()], [xs.max(), ys.max()]], float)
    mapped = corners @ crop_to_photo[:, :2].T + crop_to_photo[:, 2]
    height, width = photo.shape[:2]
    left, top = max(int(np.floor(mapped[:, 0].min())) - 2, 0), max(int(np.floor(mapped[:, 1].min())) - 2, 0)
    right, bottom = min(int(np.ceil(mapped[:, 0].max())) + 3, width), min(int(np.ceil(mapped[:, 1].max())) + 3, height)
    if right <= left or bottom <= top:
        return out
    to_box = crop_to_photo.copy()
    to_box[:, 2] -= (left, top)
    box_size = (right - left, bottom - top)
    flags = cv2.INTER_LINEAR
    warped = cv2.warpAffine(edited_crop.astype(np.float32), to_box, box_size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(alpha, to_box, box_size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    weight[weight < 1 / 512] = 0
    original = photo[top:bottom, left:right].astype(np.float32)
    blended = original + (warped - original) * weight[..., None]
    box = out[top:bottom, left:right]
    changed = weight > 0
    box[changed] = np.clip(np.rint(blended[changed]), 0, 255).astype(np.uint8)
    return out
