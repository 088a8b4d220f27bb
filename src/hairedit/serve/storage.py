"""Where a worker writes a job's result: the batch output folder under ``results/``, one
``<id>/`` folder a job. Beside ``result.<upload's format>`` (written by ``EditResult.save``,
as ``hairedit edit`` writes it) go ``crop.png`` (the edited aligned crop) and, for uploads
in another format, ``result.png`` (the same edit, lossless), both before the result itself:
the batch commit protocol counts a job done only once its result and its mark are written.

The seconds this writing takes join the result's timings as the stage ``writing``, so that
a client sees them, and ``hairedit bench --serve`` can tell them from the server's overhead.
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath

from ..batch.outputs import ROWS, LocalDir

CROP = "crop.png"
LOSSLESS = "result.png"
WRITING = "writing"  # the stage of the timings the writing is reported as
CROP_COMPRESSION = 1  # zlib level: a 1024 px crop in a fifth of the default level's time


def result_name(job_id: str, extension: str) -> str:
    return f"{job_id}/result.{extension}"


def job_files(results_dir: Path, job_id: str) -> list[Path]:
    """Every folder a job's result and its row states live in."""
    return [results_dir / job_id, results_dir / ROWS / job_id]


class ServeDir(LocalDir):
    """The batch's local output folder, writing a job's crop (and lossless copy) with its result."""

    def save_result(self, result, name: str) -> None:
        from ..atomic import write_atomically

        start = time.perf_counter()
        folder = self.root / PurePosixPath(name).parent
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / CROP, lambda handle: result.crop_after.save(
            handle, format="PNG", compress_level=CROP_COMPRESSION), overwrite=True)
        if PurePosixPath(name).name != LOSSLESS:
            result.save(folder / LOSSLESS, overwrite=True)
        super().save_result(result, name)
        result.timings[WRITING] = time.perf_counter() - start
