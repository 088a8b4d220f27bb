"""The fixed inputs of the golden values in tests/golden/*.npz (docs/golden.md): crops of the
astronaut, resized with arithmetic that gives the same bytes on every machine; and kornia's
recorded augmentations replayed with hairedit's warps."""

from __future__ import annotations

import numpy as np
import torch
from skimage import data

from hairedit.networks import clip_augment
from tests.real_photos import enlarged

# (top, left, side) in the 512 px astronaut.
REGIONS = {
    "face": (20, 100, 240),  # her face and hair
    "face_shifted": (36, 116, 240),  # the same, 16 px down and right
    "suit": (272, 200, 240),  # suit, patch and flag: no face
}
HAIR_REGIONS = ("face", "face_shifted")  # hair_mask(size, 0) and hair_mask(size, 1)
DARK = 60  # her hair is the darkest part of the face crop


def _crop(region: str, size: int) -> np.ndarray:
    top, left, side = REGIONS[region]
    return enlarged(np.ascontiguousarray(data.astronaut()[top : top + side, left : left + side]), size, size)


def astronaut_image(size: int, region: str) -> torch.Tensor:
    """(1, 3, size, size) float32 in [-1, 1]."""
    pixels = torch.from_numpy(_crop(region, size)).permute(2, 0, 1)[None].float()
    return pixels / 127.5 - 1


def hair_mask(size: int, which: int) -> torch.Tensor:
    """(1, 1, size, size) float32, 1 on the dark (hair) pixels of face crop ``which``."""
    dark = _crop(HAIR_REGIONS[which], size).mean(axis=2) < DARK
    return torch.from_numpy(dark.astype(np.float32))[None, None]


def kornia_views(views: torch.Tensor, recorded: dict) -> torch.Tensor:
    """``views`` warped with the parameters kornia drew (``recorded``), by hairedit's warps:
    the affine warp on the views kornia applied it to, then the perspective one likewise."""
    height, width = views.shape[-2:]
    assert torch.all(recorded["affine_scale"] == 1) and torch.all(recorded["affine_shear"] == 0)
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=recorded["affine_center"].dtype)
    assert torch.all(recorded["affine_center"] == centre)
    applied = recorded["affine_applied"]
    matrices = clip_augment.affine_matrices(recorded["affine_angle"], recorded["affine_translations"], height, width)
    views = views.clone()
    views[applied] = clip_augment.warp_affine(views[applied], matrices, "border")
    applied = recorded["perspective_applied"]
    homographies = clip_augment.perspective_matrices(recorded["perspective_start"], recorded["perspective_end"])
    views[applied] = clip_augment.warp_perspective(views[applied], homographies)
    return views
