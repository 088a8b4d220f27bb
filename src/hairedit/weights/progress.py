"""Progress of a download: what a callback receives, and the terminal's two bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .registry import WeightFile


@dataclass(frozen=True)
class DownloadProgress:
    """Where a :func:`download` stands, after each chunk."""

    name: str  # the file being fetched
    file_bytes: int
    file_total_bytes: int | None  # None while the server has not said
    done_bytes: int  # every file of this download together
    total_bytes: int | None  # None while a file's size is unknown
    file_index: int  # 1-based
    file_count: int


ProgressCallback = Callable[[DownloadProgress], None]


class Tracker:
    """Turns the byte counts of the file being fetched into :class:`DownloadProgress`."""

    def __init__(self, entries: list[WeightFile], report: ProgressCallback):
        self.report = report
        self.count = len(entries)
        self.sizes = {entry.name: entry.shown_bytes for entry in entries}  # real sizes replace these as known
        self.index, self.entry = 0, None
        self.finished_bytes = 0
        self.file_bytes, self.file_total = 0, None

    def start(self, entry: WeightFile) -> None:
        self.index += 1
        self.entry, self.file_bytes, self.file_total = entry, 0, entry.shown_bytes
        self.update(0, None)

    def update(self, file_bytes: int, file_total: int | None) -> None:
        self.file_bytes = file_bytes
        if file_total is not None:
            self.file_total = self.sizes[self.entry.name] = file_total
        sizes = self.sizes.values()
        self.report(DownloadProgress(
            self.entry.name, file_bytes, self.file_total, self.finished_bytes + file_bytes,
            None if None in sizes else sum(sizes), self.index, self.count,
        ))

    def finish(self) -> None:
        self.finished_bytes += self.file_bytes

    def fail(self) -> None:
        """The file could not be had: it no longer counts towards the total."""
        self.sizes[self.entry.name] = 0
        self.update(0, 0)


class TerminalBars:
    """A :data:`ProgressCallback` drawing two bars on stderr: every file together, and this file."""

    def __init__(self):
        self.total_bar = self.file_bar = None
        self.name = None

    def __call__(self, progress: DownloadProgress) -> None:
        from tqdm import tqdm

        if progress.name != self.name:
            if self.file_bar is not None:
                self.file_bar.close()
            self.name, self.file_bar = progress.name, None
        if self.file_bar is None and progress.file_bytes == 0:
            return  # bars only once bytes flow: a source that answers nothing (offline) draws no empty bar
        if self.total_bar is None:
            self.total_bar = tqdm(desc=f"{progress.file_count} file(s)", unit="B", unit_scale=True,
                                  position=0, file=sys.stderr, dynamic_ncols=True)
        if self.file_bar is None:
            self.file_bar = tqdm(desc=f"  {progress.name}", unit="B", unit_scale=True, position=1,
                                 leave=False, file=sys.stderr, dynamic_ncols=True)
        for bar, done, total in ((self.file_bar, progress.file_bytes, progress.file_total_bytes),
                                 (self.total_bar, progress.done_bytes, progress.total_bytes)):
            bar.total = total
            bar.update(done - bar.n)

    def close(self) -> None:
        for bar in (self.file_bar, self.total_bar):
            if bar is not None:
                bar.close()


@contextlib.contextmanager
def reporter(progress) -> Iterator[ProgressCallback]:
    """``progress`` as a callback: True draws terminal bars, False draws nothing."""
    if callable(progress):
        yield progress
    elif progress:
        bars = TerminalBars()
        try:
            yield bars
        finally:
            bars.close()
    else:
        yield lambda progress: None
