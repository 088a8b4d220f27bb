"""dlib's HOG detection pyramid, rebuilt from the outside so that a detection on a large photo
gives exactly the box a detection on the whole photo gives, at a fraction of the cost.

``detector(photo, 1)`` (the official setting) doubles the photo with ``pyramid_up`` and then
scans a pyramid of images, each level ``resize_image``-d to 5/6 of the one before, with an
80 px window on 8 px HOG cells. A face w px wide is found at the level where it is about 73 px
wide, about log(2w / 73) / log(1.2) levels down: 17 for a 900 px face. A box found at a level
is mapped back to the photo by a fixed formula of its level-level coordinates.

So the detector run on pyramid level ``first`` (upsample 0) sees exactly the images, hence
exactly the HOG features and scores, that the official run sees at levels ``first`` and
beyond: its own pyramid of that image is the same chain of resizes. What it cannot see are
windows smaller than the faces sought, the levels before ``first``, which carry most of the
cost (the first levels are the largest images). The levels are computed here with dlib's own
``resize_image``, so they are the same bytes; only the boxes' coordinates need translating, as
below, rounding exactly where dlib rounds.
"""

from __future__ import annotations

import math

import numpy as np

PYRAMID_RATE = 5 / 6  # pyramid_down<6>: each level 5/6 of the previous
# A detection's box at its own level: the window's inner cells span 73 px, 81 px along an axis
# where the box starts before the image (fhog_to_image offsets negative cell corners the other
# way). Its corners then lie at 5 (mod 8): cell corners 8 k + 1, moved half a cell.
LEVEL_BOX_PX = (73, 81)
CELL_PX = 8
CORNER_PHASE = 5
MAX_LEVELS = 64


def lround(value: float) -> int:
    """C's ``std::lround``: halves away from zero (Python's ``round`` takes halves to even)."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return int(math.copysign(whole, value))


def _up(value: float, levels: int) -> float:
    """``pyramid_down<6>::point_up`` applied ``levels`` times, operation for operation."""
    for _ in range(levels):
        value = value * (6 / 5.0) + 0.3
    return value


def _down(value: float, levels: int) -> float:
    """``pyramid_down<6>::point_down`` applied ``levels`` times."""
    for _ in range(levels):
        value = (value - 0.3) * (5.0 / 6)
    return value


def upsampled_size(height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of ``pyramid_up(photo)``: the photo's rectangle mapped by
    ``pyramid_down<2>::point_up``, ``(p + (1.25, 0.75)) * 2``, rounded."""
    return lround((height - 1 + 0.75) * 2) + 1, lround((width - 1 + 1.25) * 2) + 1


def level_image(photo: np.ndarray, level: int) -> np.ndarray:
    """Pyramid level ``level`` of the official run on ``photo`` (H, W, 3) uint8: the photo
    upsampled once, then reduced ``level`` times, each by dlib's bilinear ``resize_image``."""
    import dlib

    image = dlib.resize_image(np.ascontiguousarray(photo), *upsampled_size(*photo.shape[:2]))
    for _ in range(level):
        rows, columns = image.shape[:2]
        # pyramid_down<6>: ((6 - 1) * size) / 6 in integers.
        image = dlib.resize_image(image, 5 * rows // 6, 5 * columns // 6)
    return image


def level_for_width(width_px: float) -> int:
    """The pyramid level (after the upsampling) at which a box ``width_px`` photo pixels wide is found."""
    return max(0, int(math.floor(math.log(2 * width_px / LEVEL_BOX_PX[0]) / math.log(1 / PYRAMID_RATE))))


def _own_level_box(box: tuple[int, int, int, int]) -> tuple[int, tuple[int, ...]]:
    """(levels below the scanned image, the box at its own level) of a box the detector
    returned. The detector rounded the box after mapping it up; mapping up enlarges, so the
    unrounded box is within half a pixel of the returned one and rounding it back down is exact."""
    for levels in range(MAX_LEVELS):
        own = tuple(lround(_down(float(side), levels)) for side in box)
        if (
            tuple(lround(_up(float(side), levels)) for side in own) == box
            and all(side % CELL_PX == CORNER_PHASE for side in own)
            and own[2] - own[0] + 1 in LEVEL_BOX_PX
            and own[3] - own[1] + 1 in LEVEL_BOX_PX
        ):
            return levels, own
    raise ValueError(f"{box} is not a box of dlib's HOG detector at any pyramid level")


def box_in_photo(box: tuple[int, int, int, int], first_level: int) -> tuple[int, int, int, int]:
    """The photo box (left, top, right, bottom) the official run reports for ``box``, a
    detection the detector returned on :func:`level_image` ``(photo, first_level)``.

    The official run maps the box from its own level to the upsampled photo in one go
    (``rect_up``, rounded), then to the photo (``pyramid_down<2>::rect_down``,
    ``p / 2 - (1.25, 0.75)``, rounded); this does the same from the box at its own level.
    """
    levels, own = _own_level_box(tuple(int(side) for side in box))
    left, top, right, bottom = (_up(float(side), levels + first_level) for side in own)
    return (
        lround(lround(left) / 2.0 - 1.25),
        lround(lround(top) / 2.0 - 0.75),
        lround(lround(right) / 2.0 - 1.25),
        lround(lround(bottom) / 2.0 - 0.75),
    )
