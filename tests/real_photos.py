"""Real photos of several people for tests: the astronaut (scikit-image) and the photos that ship
in the PyPI wheel of insightface 2.1, as they are or enlarged to many megapixels, bit for bit the
same on every machine (golden values computed from them are stored in tests/golden/).

The wheel (1.2 MB, a zip) ships ``insightface/data/images/t1.jpg`` (a 1280x886 group photo in
which dlib finds six faces) and ``Tom_Hanks_54745.png`` (112 px). Their licence is not stated,
so they are not copied into the project: the wheel is fetched once with
``pip download --no-deps insightface==2.1`` into ``$HAIREDIT_TEST_CACHE`` (default
``~/.cache/hairedit-tests``; .ci/run fetches it first) and checked against its SHA-256; a test
that needs it is skipped, saying why, when it cannot be had.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

INSIGHTFACE_WHEEL = "insightface-2.1-py3-none-any.whl"
INSIGHTFACE_SHA256 = "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399"
IMAGES = "insightface/data/images/"
DOWNLOAD_TIMEOUT_S = 120


def cache_folder() -> Path:
    return Path(os.environ.get("HAIREDIT_TEST_CACHE", Path.home() / ".cache" / "hairedit-tests")).expanduser()


def insightface_wheel() -> Path:
    """The insightface 2.1 wheel, fetched with pip on first use and checked; pytest.skip,
    with the reason and what to do, when it cannot be had."""
    folder = cache_folder()
    wheel = folder / INSIGHTFACE_WHEEL
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "insightface==2.1", "-d", str(folder)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = str(error)
        if not wheel.is_file():
            pytest.skip(f"the real group photos ship in the insightface 2.1 wheel, which could not be fetched "
                        f"({reason}); put {INSIGHTFACE_WHEEL} into {folder} (or set HAIREDIT_TEST_CACHE)")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != INSIGHTFACE_SHA256:
        raise RuntimeError(f"{wheel} has SHA-256 {digest}, expected {INSIGHTFACE_SHA256}: delete it and run again.")
    return wheel


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
