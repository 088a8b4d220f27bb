"""Freed memory kept for reuse (hairedit.allocator): a block as large as a 1024 px feature map,
freed and asked for again, comes back without the process growing; the edit's numbers are
the same either way (tests/test_instant_speed.py's goldens were computed before it)."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# In a fresh interpreter: this process's heap already holds what earlier tests freed.
PROBE = textwrap.dedent("""
    import sys
    import torch
    from hairedit.allocator import keep_freed_memory

    def rss_mib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    kept = {kept}
    if kept:
        assert keep_freed_memory()
    block = 32 * 2**20  # floats: 128 MiB, a 1024 px feature map of 32 channels
    for _ in range(30):
        torch.ones(block)  # made and freed, as an edit's feature maps are, render after render
        print(rss_mib())
""")


def _rss_after_each_block(kept: bool) -> list[float]:
    output = subprocess.run([sys.executable, "-c", PROBE.format(kept=kept)], capture_output=True, text=True,
                            check=True).stdout
    return [float(line) for line in output.split()]


def test_freed_blocks_stay_with_the_process_and_are_reused():
    handed_back = _rss_after_each_block(kept=False)
    kept = _rss_after_each_block(kept=True)
    # Without the setting glibc hands the 128 MiB back as each block is freed; with it they stay.
    # The heap grows for the first blocks (each freed block sits a few bytes short of the next
    # request's alignment until freed neighbours merge), then settles: every further block of
    # that size reuses it instead of faulting in new pages.
    assert kept[0] - handed_back[0] > 100
    assert max(kept[-10:]) - min(kept[-10:]) < 10
    assert max(handed_back) - min(handed_back) < 10


def test_off_glibc_it_says_it_could_not(monkeypatch):
    from hairedit import allocator

    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


def test_the_environment_turns_it_off_or_is_refused_in_one_line(monkeypatch, capsys):
    from hairedit import allocator
    from hairedit.cli import main

    monkeypatch.setenv(allocator.KEEP_ENV, "0")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setenv(allocator.KEEP_ENV, "lots")
    assert main(["weights", "list"]) == 2
    error = capsys.readouterr().err
    assert "HAIREDIT_KEEP_FREED_MIB='lots' is not a whole number of MiB" in error and "set it to 0" in error
