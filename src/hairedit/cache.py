"""The inversion cache: a photo's inversion kept on disk, so its next edit starts at once.

An entry's key holds everything that changes the inversion: the image's pixels, every
inversion setting, the preset's loss size and early stopping, the precision, compiled
synthesis, the torch version, the device type, fingerprints of the networks the inversion
uses (generator, LPIPS, PCA prior; the encoder for the instant preset), the seed and the
format version. Entries are written under a unique temporary name and renamed into
place, so concurrent writers of one key cannot tear a file. The folder is kept under a size
cap (``$HAIREDIT_CACHE_MAX_MB``, default 1024; 0 keeps nothing): past it, the least recently
used entries are removed. The cache only saves time: a folder that cannot be written is
logged, and the edit goes on without it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HaireditError, InputError

if TYPE_CHECKING:  # `hairedit cache list` must not wait for torch
    import torch

FORMAT_VERSION = 2  # bump when what an entry holds, or how it is computed, changes
MAX_SIZE_ENV = "HAIREDIT_CACHE_MAX_MB"
DEFAULT_MAX_SIZE_MB = 1024  # an FS inversion at 1024 px is about 2.2 MB: some 450 photos
SUFFIX = ".inversion.pt"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    size_bytes: int
    last_used: float  # seconds since the epoch


def max_size_bytes() -> int:
    """The cap from ``$HAIREDIT_CACHE_MAX_MB`` (default 1024 MB; 0: keep no inversion)."""
    value = os.environ.get(MAX_SIZE_ENV, str(DEFAULT_MAX_SIZE_MB))
    try:
        megabytes = float(value)
    except ValueError:
        megabytes = math.nan
    if not math.isfinite(megabytes):
        raise InputError(f"${MAX_SIZE_ENV} must be a number of megabytes (0 keeps nothing). Got {value!r}")
    if megabytes < 0:
        raise InputError(f"${MAX_SIZE_ENV} must not be negative. Got {value!r}")
    return int(megabytes * 2**20)


def cache_key(*parts: object) -> str:
    """A key from ``repr`` of ``parts`` (bytes are hashed as they are) and the format version."""
    digest = hashlib.sha256(f"hairedit inversion cache v{FORMAT_VERSION}".encode())
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


class InversionCache:
    """Inversions in ``folder``, at most ``max_bytes`` of them (default :func:`max_size_bytes`)."""

    def __init__(self, folder: str | Path, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_bytes = max_size_bytes() if max_bytes is None else max_bytes

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def load(self, key: str, device: torch.device | str) -> dict[str, torch.Tensor] | None:
        """The tensors saved under ``key`` on ``device``; None when absent or unreadable."""
        from .checkpoints import read_checkpoint

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            data = read_checkpoint(path)
        except HaireditError as error:
            log.warning("dropping a damaged inversion cache entry %s (%s)", path, error)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):  # a read-only cache still serves; its order is then by writing
            os.utime(path)  # its last use, for least-recently-used eviction
        return {name: tensor.to(device) for name, tensor in data.items()}

    def save(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        """Keep ``tensors`` under ``key`` (nothing under a cap of 0). The cache only saves time:
        a folder that cannot be written (read-only, full) is reported in the log and the edit
        goes on without it."""
        import torch

        from .atomic import write_atomically

        path = self.path(key)
        try:
            if self.max_bytes > 0:
                # Serialised in memory, then written through Python's file: a failing disk is an
                # OSError (torch's own writer raises RuntimeError), and the temporary file is removed.
                buffer = io.BytesIO()
                torch.save({name: tensor.detach().cpu() for name, tensor in tensors.items()}, buffer)
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomically(path, lambda handle: handle.write(buffer.getbuffer()), overwrite=True)
            self.evict(keep=path)
        except OSError as error:
            log.warning("the inversion cache %s cannot be written (%s); going on without it", self.folder, error)

    def entries(self) -> list[CacheEntry]:
        """Every entry, most recently used first."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed meanwhile by another process
                continue
            found.append(CacheEntry(path, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda entry: entry.last_used, reverse=True)

    def size_bytes(self) -> int:
        return sum(entry.size_bytes for entry in self.entries())

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used entries until the folder fits the cap (``keep`` stays)."""
        removed, total = [], 0
        for entry in self.entries():
            total += entry.size_bytes
            if total > self.max_bytes and entry.path != keep:
                entry.path.unlink(missing_ok=True)  # OSError: the caller's (save reports it)
                removed.append(entry.path)
                total -= entry.size_bytes
        if removed:
            log.debug("inversion cache over %d bytes: removed %d entries", self.max_bytes, len(removed))
        return removed

    def clear(self) -> int:
        """Remove every entry (and stale temporary files); returns how many entries went."""
        entries = self.entries()
        for entry in entries:
            entry.path.unlink(missing_ok=True)
        for stale in self.folder.glob(f".*{SUFFIX}.*.part"):
            with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                if time.time() - stale.stat().st_mtime > 3600:  # not one being written right now
                    stale.unlink(missing_ok=True)
        return len(entries)


def fingerprint(named_tensors: dict[str, torch.Tensor]) -> str:
    """A hash of every tensor's name, shape, dtype and values: tells checkpoints apart."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(named_tensors):
        tensor = named_tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


# -- `hairedit cache` ---------------------------------------------------------------------------


def default_folder(weights_dir: str | Path | None = None) -> Path:
    """Where pretrained editors keep their inversions: ``inversions`` in the weights folder."""
    from .weights.registry import weights_dir as default_weights_dir

    return default_weights_dir(weights_dir) / "inversions"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cache", help="list or clear the inversion cache")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, help_text, func in (
        ("list", "every cached inversion, its size and last use, and the cap", run_list),
        ("clear", "remove every cached inversion", run_clear),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--weights-dir", type=Path, default=None,
                            help="the weights folder whose inversions/ to use (default: $HAIREDIT_HOME or ~/.cache/hairedit)")
        action.set_defaults(func=func)


def run_list(args: argparse.Namespace) -> int:
    cache = InversionCache(default_folder(args.weights_dir))
    entries = cache.entries()
    for entry in entries:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
        print(f"  {entry.path.name}  {entry.size_bytes / 2**20:7.2f} MB  last used {used}")
    total = sum(entry.size_bytes for entry in entries)
    print(f"{len(entries)} inversions, {total / 2**20:.1f} MB of {cache.max_bytes / 2**20:.0f} MB "
          f"(${MAX_SIZE_ENV}) in {cache.folder}")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    cache = InversionCache(default_folder(args.weights_dir))
    print(f"removed {cache.clear()} inversions from {cache.folder}")
    return 0
