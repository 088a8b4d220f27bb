"""Draws docs/images/whole_photo.png: the whole-photo step on a drawn head and shoulders.

    PYTHONPATH=src python3 tools/docs/whole_photo_figure.py docs/images/whole_photo.png

A flat drawing (no photo, no network): the hair masks are the drawing's own, the crop is a
128 px square placed 1:1, the edit inside the crop is the drawing with the other hairstyle,
and the inpainter is OpenCV's (what runs without the LaMa file). Row 1: long hair cut to a bob
(the old ends go); row 2: a bob made long (the hair goes on past the crop).
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from hairedit.face.align import CropTransform
from hairedit.inpaint import OpenCVInpainter
from hairedit.stages.whole_photo import WINDOW_CROP_SIDES, whole_photo_step

WIDTH, HEIGHT, SIZE, LEFT, TOP = 240, 300, 128, 56, 40
SKIN, BACKGROUND, SHIRT, HAIR = (224, 180, 150), (200, 212, 190), (40, 70, 130), (110, 70, 40)


def scene(hair_bottom: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawing with hair down to ``hair_bottom`` (photo row), and its hair mask."""
    image = np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)
    cv2.ellipse(image, (120, 300), (105, 100), 0, 180, 360, SHIRT, -1)  # shoulders
    cv2.rectangle(image, (104, 140), (136, 205), SKIN, -1)  # neck
    hair = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(hair, (120, 100), (50, 58), 0, 0, 360, 1, -1)  # the head's hair
    for x0, x1 in ((70, 103), (137, 170)):  # falling down both sides of the neck
        cv2.rectangle(hair, (x0, 100), (x1, hair_bottom), 1, -1)
    image[hair > 0] = HAIR
    cv2.ellipse(image, (120, 112), (36, 48), 0, 0, 360, SKIN, -1)  # the face, over the hair
    face = np.zeros_like(hair)
    cv2.ellipse(face, (120, 112), (36, 48), 0, 0, 360, 1, -1)
    return image, (hair > 0) & (face == 0)


def transform() -> CropTransform:
    return CropTransform(np.array([[1.0, 0, LEFT], [0, 1.0, TOP]]), SIZE, (WIDTH, HEIGHT))


def in_crop(mask: np.ndarray) -> np.ndarray:
    return mask[TOP : TOP + SIZE, LEFT : LEFT + SIZE].astype(np.float32)


def row(before_bottom: int, after_bottom: int) -> np.ndarray:
    before, hair_before = scene(before_bottom)
    edited, hair_edited = scene(after_bottom)
    pasted = before.copy()
    pasted[TOP : TOP + SIZE, LEFT : LEFT + SIZE] = edited[TOP : TOP + SIZE, LEFT : LEFT + SIZE]
    crop_before, crop_after = before[TOP : TOP + SIZE, LEFT : LEFT + SIZE], pasted[TOP : TOP + SIZE, LEFT : LEFT + SIZE]
    outcome = whole_photo_step(pasted, transform(), in_crop(hair_before), in_crop(hair_edited), hair_before,
                               crop_before, crop_after, OpenCVInpainter())
    masks = outcome.masks
    plan = pasted.copy() // 2 + 64
    plan[masks.hair_before & ~masks.hair_after] = (220, 40, 40)  # removed
    plan[masks.hair_after & ~masks.hair_before] = (40, 170, 60)  # added (inside the crop, and past it)
    plan[masks.hair_before & masks.hair_after] = (60, 110, 220)  # stays
    outline = cv2.dilate(masks.inpaint_region.astype(np.uint8), np.ones((3, 3), np.uint8)) - masks.inpaint_region
    plan[outline > 0] = (250, 220, 0)
    panels = [pasted, plan, outcome.image]
    for panel in panels:
        cv2.rectangle(panel, (LEFT, TOP), (LEFT + SIZE - 1, TOP + SIZE - 1), (255, 255, 255), 1)
    window = [int(LEFT + WINDOW_CROP_SIDES[0] * SIZE), int(TOP + WINDOW_CROP_SIDES[1] * SIZE),
              int(LEFT + WINDOW_CROP_SIDES[2] * SIZE) - 1, int(TOP + WINDOW_CROP_SIDES[3] * SIZE) - 1]
    for y in range(window[1], min(window[3], HEIGHT - 1), 6):  # the parsed window, dashed
        for x in (max(window[0], 0), min(window[2], WIDTH - 1)):
            plan[y : y + 3, x] = (255, 255, 255)
    gap = np.full((HEIGHT, 6, 3), 255, np.uint8)
    return np.concatenate([pasted, gap, plan, gap, outcome.image], axis=1)


def main(path: str) -> None:
    shorter = row(before_bottom=265, after_bottom=135)
    longer = row(before_bottom=135, after_bottom=265)
    figure = np.concatenate([shorter, np.full((6, shorter.shape[1], 3), 255, np.uint8), longer], axis=0)
    cv2.imwrite(path, cv2.cvtColor(figure, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main(sys.argv[1])
