"""Reading a batch's output folder: which photo became which edited file, asked for what.

``hairedit batch`` writes ``OUTDIR/report.jsonl``, one JSON object per row. Read here:

- ``photo``: the photo edited (absolute, or relative to the working folder or to OUTDIR);
- ``output``: the edited photo (absolute, or relative to OUTDIR);
- ``conditions``: ``edit``'s conditions under its names;
- ``face``, ``preset``, and ``timings`` (seconds per stage) or else ``seconds`` (the total);
- ``status``: ``failed`` rows are listed as failures with their ``error``; ``done`` and
  ``skipped`` rows (done in an earlier run, with that run's timings) are measured. A row
  whose output file is missing is a failure too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..batch.manifest import jsonl_records
from ..batch.outputs import REPORT
from ..errors import InputError
from .report import Failure


@dataclass
class RunEdit:
    name: str
    photo: Path
    output: Path
    conditions: dict = field(default_factory=dict)
    face: int = 0
    preset: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def read_run(folder: str | Path) -> tuple[list[RunEdit], list[Failure]]:
    """The finished edits of a batch output folder, and its failed rows."""
    folder = Path(folder)
    report = folder / REPORT
    if not report.is_file():
        raise InputError(
            f"{folder} has no {REPORT}: give the output folder of `hairedit batch`, or compare two photos with "
            "--before and --after."
        )
    edits, failures = [], []
    for line_number, record in jsonl_records(report):
        item = _edit_or_failure(record, folder, f"{line_number}_{Path(str(record.get('photo', 'row'))).stem}")
        (failures if isinstance(item, Failure) else edits).append(item)
    return edits, failures


def _edit_or_failure(record: dict, folder: Path, name: str) -> RunEdit | Failure:
    preset = str(record.get("preset") or "")
    if record.get("status") == "failed" or not record.get("output") or not record.get("photo"):
        return Failure(name, preset, str(record.get("error") or "the batch made no edit for this row"))
    output = _found(record["output"], [folder])
    photo = _found(record["photo"], [Path.cwd(), folder])
    if output is None or photo is None:
        missing = record["output"] if output is None else record["photo"]
        return Failure(name, preset, f"{missing} is missing")
    conditions = {key: value for key, value in (record.get("conditions") or {}).items() if value is not None}
    timings = record.get("timings") or ({"edit": float(record["seconds"])} if record.get("seconds") else {})
    return RunEdit(name, photo, output, conditions, int(record.get("face") or 0), preset, timings)


def _found(value: str, bases: list[Path]) -> Path | None:
    path = Path(str(value)).expanduser()
    candidates = [path] if path.is_absolute() else [base / path for base in bases]
    return next((candidate for candidate in candidates if candidate.is_file()), None)
