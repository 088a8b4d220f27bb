"""Row keys: what makes two rows the same edit.

A row's key hashes the content of every file it reads (photo, reference photos, sketch,
mask), its texts and colour, its face, the settings its edit runs with (the batch's settings
moved to the row's preset, with the row's seed), and the networks that edit it: hairedit's
version and the identity of each weight file the row's preset uses (:func:`networks_identity`).
A rerun finds a row done only when its output was written under the same key, so changing a
photo, a setting, a weight file or hairedit redoes exactly the rows it touches, and nothing
else: ``--preset fast`` leaves a row that names its own preset alone, a seed in ``--config``
the rows with their own seed, a new ``e4e_ffhq_encode.pt`` the rows of other presets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import PRESETS, EditConfig
from .editor import EditorSpec
from .manifest import PATH_CONDITIONS, BatchRow, ManifestError

MISSING = "missing"  # the digest of a file that is not there: the edit reports it


@dataclass(frozen=True)
class RowDefaults:
    """What rows that do not say take: ``seed``/``preset`` None are the settings' own."""

    face: int | str = 0  # a face's index, or "all"
    seed: int | None = None
    preset: str | None = None
    image_format: str = "png"  # outputs named from the key


@dataclass(frozen=True)
class RowTask:
    """A row ready for a worker: every option set, its key, its group (rows of one face of
    one photo: a worker takes a whole group, so that the photo is inverted once)."""

    index: int  # the row's place in the batch, from 0
    row: BatchRow
    key: str
    group: str
    overwrite: bool = False
    networks: str = ""  # the hash of the row's networks_identity: recorded, to say why a row is redone


class Digests:
    """SHA-256 of files, each read once per batch."""

    def __init__(self):
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if path not in self._known:
            self._known[path] = _file_digest(Path(path))
        return self._known[path]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return MISSING
    return digest.hexdigest()


def plan_rows(rows: list[BatchRow], editor: EditorSpec, defaults: RowDefaults, overwrite: bool = False) -> list[RowTask]:
    """Each row with its options set, its output named, its key; ManifestError when two rows
    would write the same file."""
    if defaults.preset is not None and defaults.preset not in PRESETS:
        raise ManifestError(f"unknown preset {defaults.preset!r}; use {', '.join(PRESETS)}.")
    digests, configs, networks = Digests(), {}, {}
    tasks, outputs = [], {}
    for index, row in enumerate(rows):
        own = row.config is not None  # the row's own settings replace the batch's, defaults and all
        base = editor.config_for(row.config)
        row = replace(
            row,
            face=defaults.face if row.face is None else row.face,
            seed=_first(row.seed, None if own else defaults.seed, base.seed),
            preset=_first(row.preset, None if own else defaults.preset, base.preset),
        )
        settings = (json.dumps(row.config, sort_keys=True), row.preset, row.seed)
        if settings not in configs:  # the settings the row's edit runs with
            config = base.with_preset(row.preset).with_seed(row.seed)
            configs[settings] = config.to_dict()
            if settings[:2] not in networks:  # the seed changes no network
                networks[settings[:2]] = _hash(networks_identity(editor, config, digests))
        content = _content(row, digests) | {"config": configs[settings]}
        key = _hash(content | {"networks": networks[settings[:2]]})
        if row.output is None:  # named without the networks: new weights redo the row in place
            row = replace(row, output=f"{Path(row.photo).stem}-{_hash(content)[:12]}.{defaults.image_format}")
        taken_by = outputs.setdefault(row.output.casefold(), row)
        if taken_by is not row:
            raise ManifestError(f"{row.origin}: writes {row.output}, as {taken_by.origin} does; give each row its own "
                                "output.")
        photo = row.photo if content["photo"] == MISSING else content["photo"]
        group = _hash({"photo": photo, "face": row.face})
        tasks.append(RowTask(index, row, key, group, overwrite, networks[settings[:2]]))
    return tasks


def networks_identity(editor: EditorSpec, config: EditConfig, digests: Digests | None = None) -> dict[str, Any]:
    """What the networks of an edit with ``config`` are: hairedit's version, and each weight
    file the edit uses (:func:`hairedit.weight_needs.uses`) by its sha256: the published pin, else the
    record of the trust-on-first-use lock file, else the file's own content (what that record
    will hold once the file is first used: so a file's first batch and its reruns agree), else
    "missing". With ``--smoke``, the random networks' seed."""
    from .. import __version__

    if editor.smoke:
        from ..commands import SMOKE_NETWORK_SEED

        return {"hairedit": __version__, "random": SMOKE_NETWORK_SEED}
    from ..weight_needs import uses
    from ..weights.download import locate
    from ..weights.lock import read_lock
    from ..weights.registry import list_weight_files

    digests = digests or Digests()
    recorded = read_lock(editor.weights_dir)
    files = {}
    for entry in list_weight_files():
        if not uses(entry, config):
            continue
        if entry.sha256 is not None or entry.name in recorded:
            files[entry.name] = entry.sha256 or recorded[entry.name].sha256
        else:
            path = locate(entry.name, editor.weights_dir)
            files[entry.name] = MISSING if path is None else digests(str(path))
    return {"hairedit": __version__, "files": files}


def _first(*values):
    return next(value for value in values if value is not None)


def _content(row: BatchRow, digests: Digests) -> dict[str, Any]:
    conditions = {name: digests(value) if name in PATH_CONDITIONS else value for name, value in row.conditions.items()}
    return {"photo": digests(row.photo), "conditions": conditions, "face": row.face}


def _hash(value: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=list).encode()).hexdigest()
