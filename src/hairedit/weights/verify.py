"""Check every present pretrained file: its sha256 against its pin or lock-file record, then
strict loading into its network (the checks its loaders register, :mod:`.checks`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import HaireditError
from .download import locate
from .checks import CHECKERS
from .lock import check_file, record_file
from .registry import WEIGHTS, get_weight_file

HASH_CHECKS = {
    "pinned": "sha256 matches its pin",
    "recorded": "sha256 matches the lock file",
    "recorded now": "sha256 recorded in the lock file now (trusted on first use)",
}


@dataclass
class VerifyResult:
    name: str
    status: str  # "ok", "failed" or "missing"
    detail: str = ""


def register_all_checks() -> None:
    """Import every module that registers a file's check (see :mod:`.checks`): where every
    file is checked or may be downloaded, none goes unloaded. torch and dlib load here, once."""
    from .. import latent_pca  # noqa: F401
    from ..evaluate import identity  # noqa: F401
    from ..face import detect  # noqa: F401
    from ..networks import (  # noqa: F401
        bald_mapper, bisenet, clip, e4e_encoder, fan, hairclip_mapper, inception, lama, sketch_encoder, stylegan2,
        vgg,
    )


def verify(folder: str | Path | None = None) -> list[VerifyResult]:
    register_all_checks()
    results = []
    for name in WEIGHTS:
        path = locate(name, folder)
        if path is None:
            results.append(VerifyResult(name, "missing"))
            continue
        entry = get_weight_file(name)
        try:
            hashed = check_file(path, entry, folder, record=False)  # a mismatch is refused before loading
            loaded = CHECKERS[name](path)
            if hashed == "unrecorded":
                record_file(path, entry, folder)
                hashed = "recorded now"
            results.append(VerifyResult(name, "ok", f"{loaded}; {HASH_CHECKS[hashed]} ({path})"))
        except HaireditError as error:
            results.append(VerifyResult(name, "failed", str(error)))
    return results
