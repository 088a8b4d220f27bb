"""Checking a pretrained file against its pin or its lock-file record.

A pinned file (sha256 in the registry) must match the pin. Any other file is trusted on first
use: the first time it is downloaded or used, its size and sha256 are written to
``weights.lock.json`` in the weights folder, and every later use must match that record. A file
that does not match is refused with a message naming it and what to do.

Hashing a file costs about a second per GB; the result is remembered for the rest of the
process as long as the file's size and modification time stay the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from ..atomic import write_atomically
from ..errors import ChecksumError, InputError
from .checks import load_strictly
from .registry import WeightFile, get_weight_file, weights_dir

LOCK_NAME = "weights.lock.json"
CHUNK_BYTES = 1 << 20

log = logging.getLogger(__name__)
_hashed: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256


@dataclass(frozen=True)
class LockRecord:
    size_bytes: int
    sha256: str
    source: str  # where the file came from when it was recorded
    recorded: str  # ISO date and time (UTC)


def lock_path(folder: str | Path | None = None) -> Path:
    return weights_dir(folder) / LOCK_NAME


def read_lock(folder: str | Path | None = None) -> dict[str, LockRecord]:
    """The records of ``weights.lock.json`` (empty when there is none yet)."""
    path = lock_path(folder)
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        return {name: LockRecord(**record) for name, record in files.items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ChecksumError(
            f"{path} is not a readable lock file ({type(error).__name__}). It records the checksums of the "
            "downloaded weights; delete it to record them anew from the files present."
        ) from error


def write_record(name: str, record: LockRecord | None, folder: str | Path | None = None) -> None:
    """Set (or, with None, drop) the record of ``name``; the file is replaced atomically, and
    one thread or process at a time reads, changes and writes it (so that no record is lost)."""
    path = lock_path(folder)
    with exclusive(path.parent, path.name):
        records = read_lock(folder)
        if record is None:
            records.pop(name, None)
        else:
            records[name] = record
        content = {"format": 1, "files": {key: asdict(value) for key, value in sorted(records.items())}}
        text = json.dumps(content, indent=2) + "\n"
        write_atomically(path, lambda handle: handle.write(text.encode("utf-8")), overwrite=True)


@contextmanager
def exclusive(folder: Path, name: str) -> Iterator[None]:
    """Hold the lock on ``name`` in ``folder`` for the block: other threads and processes that ask
    for it wait. It is the operating system's lock on ``folder/.locks/NAME.lock`` (filelock's),
    so a process that dies lets go of it."""
    path = folder / ".locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        yield


def sha256_of(path: str | Path) -> str:
    """The file's sha256 (hex), remembered while its size and modification time stay the same."""
    status = os.stat(path)
    key = (str(Path(path).resolve()), status.st_size, status.st_mtime_ns)
    if key not in _hashed:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        _hashed[key] = digest.hexdigest()
    return _hashed[key]


def expected(entry: WeightFile, folder: str | Path | None = None) -> tuple[int | None, str | None, str]:
    """(size, sha256, where that expectation comes from) for ``entry``; (None, None, ...) when
    the file is not pinned and not recorded yet."""
    if entry.pinned:
        return entry.size_bytes, entry.sha256, "its pinned checksum"
    record = read_lock(folder).get(entry.name)
    if record is None:
        return None, None, "nothing yet (trusted on first use)"
    return record.size_bytes, record.sha256, f"the checksum recorded in {lock_path(folder)} on {record.recorded[:10]}"


def difference(path: Path, size_bytes: int | None, sha256: str) -> str | None:
    """How ``path`` differs from the expected size and sha256, or None when it matches."""
    actual_size = path.stat().st_size
    if size_bytes is not None and actual_size != size_bytes:
        return f"{actual_size} bytes, expected {size_bytes}"
    actual = sha256_of(path)
    return None if actual == sha256 else f"sha256 {actual[:16]}..., expected {sha256[:16]}..."


def check_file(
    path: Path, entry: WeightFile, folder: str | Path | None = None, source: str = "found in place", record: bool = True
) -> str:
    """Check ``path`` (a copy of ``entry``) against its pin or record.

    A file with neither is loaded strictly into its network first (only a file that works is
    trusted), then recorded, with ``source`` saying where it came from; with ``record`` False
    it is left as it is. Returns "pinned", "recorded", "recorded now" or "unrecorded".

    Raises:
        ChecksumError: the size or sha256 differs, naming the file and what to do.
        CheckpointError: a file to be recorded does not load.
    """
    size, sha256, origin = expected(entry, folder)
    if sha256 is None:
        if not record:
            return "unrecorded"
        load_strictly(entry.name, path)
        record_file(path, entry, folder, source)
        return "recorded now"
    problem = difference(path, size, sha256)
    if problem is not None:
        raise ChecksumError(_mismatch(path, entry, problem, origin))
    return "pinned" if entry.pinned else "recorded"


def record_file(path: Path, entry: WeightFile, folder: str | Path | None = None, source: str = "found in place") -> None:
    record = LockRecord(path.stat().st_size, sha256_of(path), source, _now())
    write_record(entry.name, record, folder)
    log.info("recorded %s: %d bytes, sha256 %s (trusted on first use)", entry.name, record.size_bytes, record.sha256)


def _mismatch(path: Path, entry: WeightFile, difference: str, origin: str) -> str:
    advice = f"Delete it and run `hairedit weights download {entry.name}`."
    if not entry.pinned:
        advice += f" If you put it there on purpose and trust it, run `hairedit weights trust {entry.name}`."
    return f"{path} does not match {origin} ({difference}): the file is damaged or was replaced. {advice}"


def trust(name: str, path: Path | None, folder: str | Path | None = None) -> LockRecord | None:
    """Record the file now at ``path`` as the trusted copy of ``name``; with no file, forget the
    record, so that the next download is trusted on first use. Unpinned files only."""
    entry = get_weight_file(name)
    if entry.pinned:
        raise InputError(f"{name} is pinned to a published checksum; only a file matching it is used.")
    record = None if path is None else LockRecord(path.stat().st_size, sha256_of(path), "trusted by hand", _now())
    write_record(name, record, folder)
    return record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
