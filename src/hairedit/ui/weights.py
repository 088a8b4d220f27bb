"""The page's offer to download missing pretrained files, with a progress bar.

Everything asked of :mod:`hairedit.weights` goes through :func:`missing_files` and
:func:`download_files`: the one place to change when its API changes.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DownloadError, HaireditError

PROGRESS_REFRESH_S = 0.25


@dataclass(frozen=True)
class MissingFile:
    name: str
    size_bytes: int | None  # None where the registry does not know it


def missing_files(folder: Path) -> list[MissingFile]:
    """The pretrained files not in ``folder`` (nor installed inside a package)."""
    from ..weights.download import locate
    from ..weights.registry import WEIGHTS

    return [MissingFile(entry.name, entry.size_bytes) for entry in WEIGHTS.values() if locate(entry.name, folder) is None]


def download_files(files: list[MissingFile], folder: Path, report: Callable[[str, int], None]) -> None:
    """Fetch ``files`` into ``folder`` one after the other, calling ``report(name, bytes so far)``
    every PROGRESS_REFRESH_S. Raises one DownloadError naming every file that could not be had.

    The downloader has no progress callback, so the bytes are read off the file's growing ``.part``.
    """
    from ..weights.download import ensure

    failures = []
    for file in files:
        part = folder / f"{file.name}.part"
        finished = threading.Event()

        def watch(name: str = file.name, part: Path = part, finished: threading.Event = finished) -> None:
            while not finished.wait(PROGRESS_REFRESH_S):
                report(name, part.stat().st_size if part.is_file() else 0)

        watcher = threading.Thread(target=watch, name="hairedit-download-progress", daemon=True)
        watcher.start()
        try:
            path = ensure(file.name, folder)
            report(file.name, path.stat().st_size)
        except DownloadError as error:
            failures.append(str(error))
        finally:
            finished.set()
            watcher.join()
    if failures:
        raise DownloadError("\n".join(failures))


@dataclass
class DownloadState:
    """What a download has done so far, as the page shows it."""

    files: list[MissingFile] = field(default_factory=list)
    bytes_done: dict[str, int] = field(default_factory=dict)
    current: str | None = None
    failed: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(file.size_bytes or 0 for file in self.files)


class WeightsDownload:
    """One download of the missing files into ``folder``, shared by every tab that asks for it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.state = DownloadState()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def missing(self) -> list[MissingFile]:
        return missing_files(self.folder)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start fetching what is missing, unless a download already runs (then this joins it)."""
        with self._lock:
            if self.running:
                return
            self.state = DownloadState(files=self.missing())
            self._thread = threading.Thread(target=self._work, name="hairedit-weights", daemon=True)
            self._thread.start()

    def wait(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _report(self, name: str, done: int) -> None:
        self.state.current = name
        self.state.bytes_done[name] = done

    def _work(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            download_files(self.state.files, self.folder, self._report)
        except HaireditError as error:
            # The page says what failed in one line; the sources tried and their errors go here.
            print(f"hairedit: the download from the page failed:\n{error}", file=sys.stderr)
            self.state.failed = True
        except Exception:  # a bug: the page says the download failed, the terminal has the traceback
            traceback.print_exc()
            self.state.failed = True
        self.state.current = None
