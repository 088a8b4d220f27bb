"""Writing a file atomically: whole or not at all, and never over a file unless asked.

Every output of hairedit (images, reports, the weights lock, the inversion cache, batch rows)
is written through :func:`write_atomically`, so an error or Ctrl-C never leaves half a file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import InputError


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None], overwrite: bool = False) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then give it the name ``path``.

    Without ``overwrite`` the name is taken only if no file has it, even one written meanwhile
    (a hard link, which fails rather than replaces); InputError if one does.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temporary, "xb") as handle:  # "x" honours the umask, unlike mkstemp's 0600
            write(handle)
        if overwrite:
            os.replace(temporary, path)
        else:
            _link_new(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _link_new(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` only if no file has it, even one written meanwhile."""
    try:
        os.link(temporary, path)
    except FileExistsError as error:
        raise InputError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it.") from error
    except OSError:
        # Filesystems without hard links (FAT, some network shares): check, then rename.
        if path.exists():
            raise InputError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it.") from None
        os.replace(temporary, path)
