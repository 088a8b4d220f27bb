"""Whether an output can be written where it is asked for, found before any work: the folder
is a folder (or can be made inside one), a file can be made in it (one is made and removed),
and the name fits the file system. Without torch, so that a bad ``-o`` answers at once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError

DEFAULT_NAME_MAX_BYTES = 255  # where the file system does not say (ext4, APFS, NTFS: 255)


def check_output_file(path: Path) -> None:
    """Refuse, in one line, a file ``path`` that could not be written: its name too long, its
    folder missing, a file, or not writable."""
    check_name_length(path)
    check_writable_folder(path.parent, create=False)


def check_writable_folder(folder: Path, create: bool = True) -> None:
    """Refuse a ``folder`` to write into that is a file or sits in one, is missing (unless
    ``create``: then each missing name must fit, and the nearest existing folder above must be
    writable), or is not writable."""
    above = (folder, *folder.parents)
    blocking = next((path for path in above if path.exists() and not path.is_dir()), None)
    if blocking is not None:
        raise InputError(f"{blocking} is a file, not a folder; choose another place for the output.")
    existing = next(path for path in above if path.is_dir())  # the root at the latest
    if existing != folder and not create:
        raise InputError(f"{folder} does not exist; create the folder first.")
    for missing in above[: above.index(existing)]:
        check_name_length(missing)
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".hairedit-write-check-"):
            pass
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise InputError(f"cannot write into {existing} ({reason}); choose another place for the output.") from None


def check_name_length(path: Path) -> None:
    """Refuse a name longer than the file system allows (most allow 255 bytes)."""
    size = len(os.fsencode(path.name))
    limit = _name_max_bytes(path.parent)
    if size > limit:
        raise InputError(f"the name {path.name[:40]}... is {size} bytes long; the file system allows at most "
                         f"{limit}. Choose a shorter name.")


def _name_max_bytes(folder: Path) -> int:
    existing = next((path for path in (folder, *folder.parents) if path.is_dir()), Path("."))
    try:
        return os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or the file system does not say
        return DEFAULT_NAME_MAX_BYTES
