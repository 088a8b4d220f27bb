"""Keep the memory torch frees for the next tensor of its size, instead of handing it back.

An edit allocates and frees feature maps of up to 128 MB (32 channels at 1024 px) dozens of
times. glibc's malloc serves each block that large with a fresh ``mmap`` and returns it with
``munmap`` when freed, so every render faults its pages in again, and the kernel zeroes each
one: on a small virtual machine that costs more than the convolutions. :func:`keep_freed_memory`
tells glibc to serve every block from its heap, keep up to ``keep_mib`` of freed memory at the
top of it, and let every thread share that heap. The results are the same bit for bit; only
where the memory comes from changes. Measured on the 2-core development machine with
``hairedit bench --quick`` (docs/performance.md): an instant edit 8.9 s -> 4.6 s, its follow-up
6.2 s -> 2.9 s, a faithful edit projected at half the time; the system time of the whole bench
148 s -> 31 s. The price is memory held between edits (at most ``keep_mib`` at the heap's top,
plus what the heap cannot give back between live blocks): the bench's peaks grew, an instant
edit's 2.9 -> 3.2 GB, the faithful and fast benches' 9.3 -> 11.6 GB. Where memory is shorter
than time, ``HAIREDIT_KEEP_FREED_MIB=0`` in the environment leaves glibc as it was.

The command line and the batch workers call it as they start; a program using the Python API
may call it once, before its first edit (it applies to the whole process). Elsewhere (macOS,
Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

from .errors import InputError

log = logging.getLogger(__name__)

# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

DEFAULT_KEEP_MIB = 1024
KEEP_ENV = "HAIREDIT_KEEP_FREED_MIB"  # 0: glibc's own behaviour
MAX_KEEP_MIB = 2047  # mallopt takes an int of bytes


def keep_freed_memory(keep_mib: int | None = None) -> bool:
    """Have glibc keep freed memory for reuse (see the module's text). ``keep_mib``: default
    ``$HAIREDIT_KEEP_FREED_MIB``, else 1024; 0 changes nothing. Returns whether the setting
    took: False for 0, and off glibc."""
    if keep_mib is None:
        keep_mib = _keep_mib_from_environment()
    if keep_mib <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        log.debug("no glibc mallopt here: freed memory goes back to the system as before")
        return False
    settings = (
        (_M_MMAP_MAX, 0),  # no block from mmap: all from the heap, where freed ones are reused
        (_M_TRIM_THRESHOLD, min(keep_mib, MAX_KEEP_MIB) * 2**20),  # hand back only what is free beyond this
        (_M_ARENA_MAX, 1),  # the UI's and the server's worker threads reuse the same heap
    )
    return all(mallopt(option, value) == 1 for option, value in settings)


def give_back_freed_memory() -> None:
    """Hand every freed page back to the system now (``malloc_trim``): what :func:`keep_freed_memory`
    keeps, and what glibc keeps anyway, spread over its threads' arenas, would otherwise leave a
    server the size of its busiest moment. Off glibc, nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # a Linux without glibc (musl)
        pass


def _keep_mib_from_environment() -> int:
    value = os.environ.get(KEEP_ENV, "").strip()
    if not value:
        return DEFAULT_KEEP_MIB
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{KEEP_ENV}={value!r} is not a whole number of MiB: set it to 0 to leave glibc's "
                         f"malloc as it is, or to how much freed memory to keep (default {DEFAULT_KEEP_MIB})") from None
