"""Real photos of several people for tests: the astronaut (scikit-image) and the photos that ship
in the PyPI wheel of insightface 2.1, as they are or enlarged to many megapixels, bit for bit the
same on every machine (golden values computed from them are stored in tests/golden/).

The wheel (1.2 MB, a zip) ships ``insightface/data/images/t1.jpg`` (a 1280x886 group photo in
which dlib finds six faces) and ``Tom_Hanks_54745.png`` (112 px). Their licence is not stated,
so they are not copied into the project: the wheel is fetched once by
tests/pypi_wheels.py; a test that needs it is skipped, saying why, when it cannot be had.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.pypi_wheels import INSIGHTFACE, fetched

IMAGES = "insightface/data/images/"


def insightface_wheel() -> Path:
    """The insightface 2.1 wheel (tests/pypi_wheels.py)."""
    return fetched(INSIGHTFACE, "the real group photos")


def insightface_image(name: str) -> np.ndarray:
    """``name`` (e.g. "t1.jpg") from the wheel's images, (H, W, 3) uint8 RGB."""
    with zipfile.ZipFile(insightface_wheel()) as wheel, wheel.open(IMAGES + name) as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def group_photo() -> np.ndarray:
    """(886, 1280, 3) uint8 RGB: six people, dlib finds all six faces."""
    return insightface_image("t1.jpg")


def astronaut_portrait() -> np.ndarray:
    """(512, 341, 3): the astronaut cut to a 2:3 portrait around her face."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, 80:421])


def enlarged(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """``photo`` resized to (height, width, 3) uint8 by bilinear interpolation (pixel centres
    aligned), in float32 elementwise arithmetic only, so every machine gives the same bytes."""
    columns = _interpolate(photo.astype(np.float32), width, axis=1)
    out = np.empty((height, width, photo.shape[2]), np.uint8)
    for start in range(0, height, 512):  # a band at a time: the float copy stays small
        rows = np.arange(start, min(start + 512, height))
        band = _interpolate(columns, height, axis=0, positions=rows)
        out[rows] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
    return out


def _interpolate(image: np.ndarray, size: int, axis: int, positions: np.ndarray | None = None) -> np.ndarray:
    length = image.shape[axis]
    positions = np.arange(size) if positions is None else positions
    source = np.clip((positions + 0.5) * (length / size) - 0.5, 0, length - 1)
    below = np.floor(source).astype(np.int64)
    above = np.minimum(below + 1, length - 1)
    fraction = (source - below).astype(np.float32)
    shape = [1] * image.ndim
    shape[axis] = -1
    fraction = fraction.reshape(shape)
    return np.take(image, below, axis=axis) * (1 - fraction) + np.take(image, above, axis=axis) * fraction


def pixels_sha256(photo: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(photo).tobytes()).hexdigest()
