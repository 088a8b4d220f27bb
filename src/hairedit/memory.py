"""The peak memory of one block of work, on Linux, macOS and Windows, CPU or GPU.

>>> with measure_peak_memory(device) as memory:    # doctest: +SKIP
...     editor.edit(photo, hairstyle="bob cut hairstyle")
>>> memory.peak_mib, memory.added_mib              # doctest: +SKIP

What is measured depends on the device:

- CPU: the process's resident memory (RSS), which is what torch's CPU tensors and numpy
  arrays occupy (``tracemalloc`` misses both). A thread samples it every ``interval_s``, and
  once more as the block ends. On Linux the kernel's own high-water mark is reset as the block
  starts and read as it ends, so even a spike between two samples is caught.
- CUDA: torch's allocated bytes on that device (``torch.cuda.max_memory_allocated``).
- MPS: the bytes Metal's driver holds for torch, sampled like RSS.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

BYTES_PER_MIB = 2**20
_LINUX_STATUS = "/proc/self/status"


@dataclass
class PeakMemory:
    """What :func:`measure_peak_memory` found; filled in when the block ends."""

    what: str  # "process RSS", "CUDA allocated" or "MPS driver allocated"
    start_bytes: int
    peak_bytes: int

    @property
    def peak_mib(self) -> float:
        """The highest value during the block, MiB (for RSS: the whole process's)."""
        return self.peak_bytes / BYTES_PER_MIB

    @property
    def added_mib(self) -> float:
        """How far the block took memory above where it started, MiB."""
        return max(0, self.peak_bytes - self.start_bytes) / BYTES_PER_MIB


@contextmanager
def measure_peak_memory(device=None, interval_s: float = 0.005) -> Iterator[PeakMemory]:
    """Measure the peak memory of the ``with`` block on ``device`` (a torch.device, "cuda:0",
    or None for the CPU). Yields a :class:`PeakMemory`, complete once the block has ended."""
    device_type = str(device).split(":")[0] if device is not None else "cpu"
    if device_type == "cuda":
        with _cuda_peak(device) as result:
            yield result
        return
    if device_type == "mps":
        import torch

        read, what = torch.mps.driver_allocated_memory, "MPS driver allocated"
    else:
        read, what = _process_rss_bytes, "process RSS"
    high_water_mark = device_type == "cpu" and _reset_linux_high_water_mark()
    with _sampled_peak(read, what, interval_s) as result:
        yield result
    if high_water_mark:
        result.peak_bytes = max(result.peak_bytes, _linux_high_water_mark_bytes())


@contextmanager
def _sampled_peak(read: Callable[[], int], what: str, interval_s: float) -> Iterator[PeakMemory]:
    result = PeakMemory(what, read(), 0)
    result.peak_bytes = result.start_bytes
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval_s):
            result.peak_bytes = max(result.peak_bytes, read())

    sampler = threading.Thread(target=sample, name="hairedit-memory", daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result.peak_bytes = max(result.peak_bytes, read())  # what the block still holds as it ends


@contextmanager
def _cuda_peak(device) -> Iterator[PeakMemory]:
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    result = PeakMemory("CUDA allocated", torch.cuda.memory_allocated(device), 0)
    try:
        yield result
    finally:
        torch.cuda.synchronize(device)
        result.peak_bytes = max(result.start_bytes, torch.cuda.max_memory_allocated(device))


def _process_rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def _reset_linux_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS record of this process (Linux 4.0+); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _linux_high_water_mark_bytes() -> int:
    with open(_LINUX_STATUS) as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    return 0
