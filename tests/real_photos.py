"""Real photos of several people for tests, from the PyPI wheel of insightface 2.1.

The wheel (1.2 MB, a zip) ships ``insightface/data/images/t1.jpg`` (a 1280x886 group photo in
which dlib finds six faces) and ``Tom_Hanks_54745.png`` (112 px). It is looked for in
``$HAIREDIT_TEST_CACHE`` (default ``~/.cache/hairedit-tests``) and fetched there with
``pip download --no-deps insightface==2.1`` when missing; a test that needs it is skipped,
saying why, when neither works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

WHEEL_REQUIREMENT = "insightface==2.1"
WHEEL_PATTERN = "insightface-2.1-*.whl"
IMAGES = "insightface/data/images/"
DOWNLOAD_TIMEOUT_S = 120


def cache_folder() -> Path:
    return Path(os.environ.get("HAIREDIT_TEST_CACHE", Path.home() / ".cache" / "hairedit-tests")).expanduser()


def insightface_wheel() -> Path:
    """The wheel, fetched once into the cache folder; pytest.skip when it cannot be had."""
    folder = cache_folder()
    found = sorted(folder.glob(WHEEL_PATTERN))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL_REQUIREMENT, "-d", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"the insightface 2.1 wheel (real group photos) could not be fetched: {error}")
    found = sorted(folder.glob(WHEEL_PATTERN))
    if not found:
        reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        pytest.skip(f"the insightface 2.1 wheel (real group photos) could not be fetched: {reason}")
    return found[0]


def insightface_image(name: str) -> np.ndarray:
    """``name`` (e.g. "t1.jpg") from the wheel's images, (H, W, 3) uint8 RGB."""
    with zipfile.ZipFile(insightface_wheel()) as wheel, wheel.open(IMAGES + name) as handle:
        return np.asarray(Image.open(handle).convert("RGB"))
