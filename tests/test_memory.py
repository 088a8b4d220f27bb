"""Peak memory of a block of work, measured the same way on Linux, macOS and Windows."""

import gc
import mmap
import sys

import numpy as np
import pytest

from hairedit import memory
from hairedit.memory import measure_peak_memory
from tests.conftest import run_python

BLOCK_MIB = 200


def _hold(mib: int) -> np.ndarray:
    """``mib`` MiB of fresh pages, written (resident, not just reserved). A mapping of its own:
    a heap that earlier tests left with free, resident memory would serve np.ones from it."""
    pages = np.frombuffer(mmap.mmap(-1, mib * 2**20), np.uint8)
    pages[:] = 1
    return pages


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_the_peak_of_a_block_is_seen_on_every_platform(monkeypatch, platform):
    # Off Linux, only the sampling thread and the last reading remain: they must suffice.
    monkeypatch.setattr(memory.sys, "platform", platform)
    gc.collect()  # what earlier tests left in cycles must not be freed inside the block, offsetting it
    with measure_peak_memory() as measured:
        held = _hold(BLOCK_MIB)
    assert measured.what == "process RSS"
    assert BLOCK_MIB * 0.95 <= measured.added_mib < BLOCK_MIB * 1.5
    assert measured.peak_mib >= measured.added_mib
    del held


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's high-water mark is Linux's")
def test_a_spike_freed_inside_the_block_still_counts():
    gc.collect()
    with measure_peak_memory(interval_s=60) as measured:  # no sample lands inside the spike
        spike = _hold(BLOCK_MIB)
        del spike
    assert measured.added_mib >= BLOCK_MIB * 0.95


def test_bench_runs_without_the_unix_only_resource_module():
    # `resource` does not exist on Windows; blocking it (after psutil, whose Linux part uses it
    # and whose Windows part does not) is what importing hairedit there looks like.
    code = "import sys, psutil; sys.modules['resource'] = None; import hairedit.bench, hairedit.memory"
    run = run_python(code)
    assert run.returncode == 0, run.stderr[-2000:]
