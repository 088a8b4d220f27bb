"""Where a worker writes a job's result: the batch output folder under ``results/``, one
``<id>/`` folder a job. Beside ``result.<upload's format>`` (written by ``EditResult.save``,
as ``hairedit edit`` writes it) go ``crop.png`` (the edited aligned crop) and, for uploads
in another format, ``result.png`` (the same edit, lossless), both before the result itself:
the batch commit protocol counts a job done only once its result and its mark are written.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..batch.outputs import ROWS, LocalDir

CROP = "crop.png"
LOSSLESS = "result.png"


def result_name(job_id: str, extension: str) -> str:
    return f"{job_id}/result.{extension}"


def job_files(results_dir: Path, job_id: str) -> list[Path]:
    """Every folder a job's result and its row states live in."""
    return [results_dir / job_id, results_dir / ROWS / job_id]


class ServeDir(LocalDir):
    """The batch's local output folder, writing a job's crop (and lossless copy) with its result."""

    def save_result(self, result, name: str) -> None:
        from ..imageio import save_image

        folder = PurePosixPath(name).parent
        (self.root / folder).mkdir(parents=True, exist_ok=True)
        save_image(result.crop_after, self.root / folder / CROP, overwrite=True)
        if PurePosixPath(name).name != LOSSLESS:
            result.save(self.root / folder / LOSSLESS, overwrite=True)
        super().save_result(result, name)
