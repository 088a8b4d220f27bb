"""Random weights for the small test networks, without touching anybody's random stream."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch


_BUILDING = threading.RLock()  # torch's CPU random stream is one for the whole process


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside, torch's CPU random stream starts from ``seed``; outside, it is as it was.

    Networks are built lazily, possibly in the middle of an edit: building one must not move
    the random stream of whoever happens to be running. Builds in several threads (the UI's
    preview beside an edit) take turns, so that each draws its own seed's numbers.
    """
    with _BUILDING, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
