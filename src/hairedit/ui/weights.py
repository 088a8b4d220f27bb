"""The page's offer to download missing pretrained files, with a progress bar.

One download at a time, shared by every tab: a tab that asks while it runs follows it.
"""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path

from ..config import EditConfig
from ..errors import HaireditError
from ..weight_needs import files_used
from ..weights.download import download, missing_files
from ..weights.progress import DownloadProgress
from ..weights.registry import WeightFile
from ..weights.verify import register_all_checks

PROGRESS_REFRESH_S = 0.25  # how often the page is told how far the download is

log = logging.getLogger(__name__)


class WeightsDownload:
    """The files an edit with ``preset`` (a preset's name or a whole configuration) uses,
    fetched into ``folder`` when the page asks."""

    def __init__(self, folder: Path, preset: str | EditConfig):
        self.folder = Path(folder)
        self.preset = preset
        self.progress: DownloadProgress | None = None  # the latest report of the running download
        self.failed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def missing(self) -> list[WeightFile]:
        """What an edit with the preset uses and the folder lacks: the optional files too (the
        official PCA), as `hairedit weights download` fetches them."""
        return missing_files(files_used(self.preset), self.folder)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start fetching what is missing, unless a download already runs (then this joins it)."""
        with self._lock:
            if self.running:
                return
            self.progress, self.failed = None, False
            names = [entry.name for entry in self.missing()]
            if not names:  # fetched meanwhile (another tab, a terminal)
                return
            self._thread = threading.Thread(target=self._work, args=(names,), name="hairedit-weights", daemon=True)
            self._thread.start()

    def wait(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _report(self, progress: DownloadProgress) -> None:
        self.progress = progress

    def _work(self, names: list[str]) -> None:
        try:
            register_all_checks()  # a file trusted on first use is loaded strictly before it is recorded
            download(names, self.folder, progress=self._report)
        except HaireditError as error:
            # The page says it failed in one line; the sources tried and their errors go to the terminal.
            log.error("the download from the page failed:\n%s", error)
            self.failed = True
        except Exception:  # a bug: the page says the download failed, the terminal has the traceback
            traceback.print_exc()
            self.failed = True
