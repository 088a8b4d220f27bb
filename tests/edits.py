"""Checks shared by the pipeline and CLI tests."""

import numpy as np
import torch

FEATHER_FRACTION = 0.05  # paste-back feathers this far (of the crop side) past the edit region


def assert_only_the_edit_region_changed(
    before: np.ndarray, after: np.ndarray, edit_region: np.ndarray, transform, whole_photo: np.ndarray | None = None
):
    """Some pixels changed, and every changed pixel of the photo lies inside ``edit_region``
    ((S, S) in crop coordinates) grown by paste-back's feathering, carried into the photo by
    ``transform`` (photo <-> crop), or in ``whole_photo`` ((H, W) bool: what the whole-photo
    step may change, its inpainting region and the hair after)."""
    changed = np.any(after != before, axis=2)
    assert changed.any(), "the edit changed nothing"
    if whole_photo is not None:
        changed &= ~whole_photo
    scale = edit_region.shape[0] / transform.size_px
    margin_px = int(transform.size_px * FEATHER_FRACTION * scale)
    region = torch.from_numpy(edit_region.astype(np.float32))[None, None]
    grown = torch.nn.functional.max_pool2d(region, 2 * margin_px + 1, 1, margin_px)[0, 0].numpy()
    ys, xs = np.nonzero(changed)
    crop_points = transform.to_crop(np.stack([xs, ys], 1).astype(float))
    rows = np.clip((crop_points[:, 1] * scale).astype(int), 0, edit_region.shape[0] - 1)
    columns = np.clip((crop_points[:, 0] * scale).astype(int), 0, edit_region.shape[0] - 1)
    assert grown[rows, columns].all(), "pixels outside the edit region changed"


def whole_photo_region(masks) -> np.ndarray:
    """What the whole-photo step of an edit with these ``EditMasks`` may change."""
    return masks.inpaint_region | masks.hair_photo_after
