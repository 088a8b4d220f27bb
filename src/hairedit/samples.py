"""The sample portrait and the conditions ``hairedit demo`` and ``doctor --smoke`` edit it with:
no download needed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Mode:
    label: str
    conditions: dict


def sample_photo() -> np.ndarray:
    """scikit-image's astronaut portrait (512, 512, 3) uint8: a real photo that needs no download."""
    from skimage import data

    return data.astronaut()


def sample_reference(photo: np.ndarray) -> np.ndarray:
    """The reference person for the demo: the portrait mirrored.

    scikit-image bundles no second photo with a detectable face (the cameraman's is too
    small, the GIF too tiny), so the demo's reference hairstyle and colour come from the same
    person: the mode runs end to end, but shows little change.
    """
    return np.ascontiguousarray(photo[:, ::-1])


def sample_sketch(size_px: int = 512) -> np.ndarray:
    """Three strokes over the left side of an aligned crop: hair reaching down past the ear.

    Returns (size_px, size_px) uint8, grey 128 strokes on black as the official painter draws them.
    """
    canvas = np.zeros((size_px, size_px), np.uint8)
    scale = size_px / 512
    for offset in (0, 14, 28):
        points = np.array([[150 - offset, 90], [110 - offset, 150], [95 - offset, 230], [100 - offset, 320]]) * scale
        cv2.polylines(canvas, [points.astype(np.int32)], False, 128, max(1, round(2 * scale)))
    return canvas


def sample_mask(editor, crop: np.ndarray) -> np.ndarray:
    """The crop's own parse with the hair painted longer on both sides, (p, p) uint8 labels."""
    labels = editor.parse(crop).copy()
    size = labels.shape[0]
    band_top, band_bottom = int(size * 0.35), int(size * 0.75)
    labels[band_top:band_bottom, : int(size * 0.2)] = 10
    labels[band_top:band_bottom, int(size * 0.8) :] = 10
    return labels


def modes(editor, photo: np.ndarray, everything: bool) -> list[Mode]:
    """The demo's modes; ``everything`` adds the rest (doctor --smoke runs them all)."""
    reference = sample_reference(photo)
    chosen = [
        Mode("text: bob cut", {"hairstyle": "bob cut hairstyle"}),
        Mode("reference hairstyle", {"hairstyle_ref": reference}),
        Mode("sketch", {"sketch": sample_sketch()}),
        Mode("RGB colour", {"rgb": (200, 40, 40)}),
        Mode("text + colour", {"hairstyle": "afro hairstyle", "color": "blond hair"}),
    ]
    if everything:
        crop = editor.align(photo).crop
        chosen += [
            Mode("text + painted mask", {"hairstyle": "long wavy hairstyle", "mask": sample_mask(editor, crop)}),
            Mode("colour text", {"color": "purple hair"}),
            Mode("colour reference", {"color_ref": reference}),
            Mode("reference + sketch + RGB", {"hairstyle_ref": reference, "sketch": sample_sketch(), "rgb": "#d4a373"}),
        ]
    return chosen
