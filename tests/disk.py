"""A disk that fills up: real write failures, without a full disk."""

import contextlib
import signal
import sys

import pytest


@contextlib.contextmanager
def full_after(size_bytes: int):
    """Inside the block, writing past ``size_bytes`` into any file fails with an OSError (EFBIG),
    as a full disk's writes fail with ENOSPC: the process's file size limit."""
    if sys.platform == "win32":
        pytest.skip("no file size limit on Windows")
    import resource

    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel's signal ends the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (size_bytes, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
