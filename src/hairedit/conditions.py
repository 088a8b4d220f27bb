"""Reading what the user asks for: RGB colours, sketches and painted masks.

Sketches and masks are drawn in the coordinates of the aligned crop (``hairedit align``
writes it), at any square size.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
from PIL import ImageColor

from .errors import InputError
from .imageio import PhotoLike, load_photo, open_image
from .networks.bisenet import N_CLASSES

SKETCH_GREY = 128  # the official strokes: grey 128, 2 px wide, on a 512 px canvas


def parse_rgb(value: str | tuple | list) -> tuple[int, int, int]:
    """"R,G,B", "#RRGGBB", "#RGB", a CSS colour name, or a 3-tuple -> (r, g, b) in 0..255."""
    if isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d+\s*[, ]\s*\d+\s*[, ]\s*\d+", text):
            parts = [int(p) for p in re.split(r"[,\s]+", text)]
        else:
            try:
                parts = list(ImageColor.getrgb(text))[:3]
            except ValueError:
                raise InputError(
                    f"'{value}' is not a colour. Use R,G,B (e.g. 180,40,40), #RRGGBB, or a colour name such as 'crimson'."
                ) from None
    if len(parts) != 3 or not all(isinstance(p, (int, np.integer)) for p in parts):
        raise InputError(f"an RGB colour needs three whole numbers. Got {value!r}")
    if not all(0 <= p <= 255 for p in parts):
        raise InputError(f"RGB values must be between 0 and 255. Got {tuple(parts)}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _square(array: np.ndarray, what: str, source: object) -> np.ndarray:
    if array.shape[0] != array.shape[1]:
        raise InputError(
            f"the {what} {source} is {array.shape[1]}x{array.shape[0]}; it must be square, in the coordinates of the "
            "aligned crop (see `hairedit align`)."
        )
    return array


def load_sketch(source: PhotoLike, size_px: int = 512) -> np.ndarray:
    """Light strokes on black, any square size -> (size_px, size_px) uint8, strokes = 128, else 0."""
    name = source if isinstance(source, str) else "sketch"
    grey = load_photo(source, "sketch").max(axis=2)
    grey = _square(grey, "sketch", name)
    strokes = (grey > 64).astype(np.uint8)
    if not strokes.any():
        raise InputError(f"the sketch {name} has no strokes: draw light strokes on a black image.")
    if strokes.shape[0] != size_px:
        strokes = cv2.resize(strokes, (size_px, size_px), interpolation=cv2.INTER_NEAREST)
    return strokes * SKETCH_GREY


def load_mask(source: PhotoLike, size_px: int = 512) -> np.ndarray:
    """A painted label map, any square size -> (size_px, size_px) uint8.

    Labels are the parser's 16 classes; the mask loss counts 0 (background), 1 (face), 6 (ear)
    and 10 (hair) and ignores the rest, so a parse prefilled by `hairedit` and painted over with
    those four works as is. An RGB file must have equal channels (a grey image of label values).
    """
    name = source if isinstance(source, str) else "mask"
    if isinstance(source, str):
        image = open_image(source)
        array = np.asarray(image)
        if array.ndim == 3:
            array = array[..., :3]
    else:
        array = np.asarray(source)
    if array.ndim == 3:
        if not (array == array[..., :1]).all():
            raise InputError(f"the mask {name} must be a label map (one value per pixel: 0, 1, 6, 10...), not a colour image.")
        array = array[..., 0]
    array = _square(np.asarray(array), "mask", name)
    values = set(np.unique(array).tolist())
    unknown = values - set(range(N_CLASSES))
    if unknown:
        raise InputError(
            f"the mask {name} has values {sorted(unknown)[:5]}; a mask holds labels 0-15: paint 0 (background), 1 (face), "
            "6 (ear) or 10 (hair)."
        )
    array = array.astype(np.uint8)
    if array.shape[0] != size_px:
        array = cv2.resize(array, (size_px, size_px), interpolation=cv2.INTER_NEAREST)
    return array
