"""A batch worker: one loaded editor that runs rows one after another and commits each.

The same class runs in the driver (one worker), in worker processes (``--workers``) and in
Ray actors (``--ray``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..allocator import keep_freed_memory
from ..errors import EditInterrupted, HaireditError, InputError
from .editor import EditorSpec
from .keys import RowTask
from .outputs import Decision, OutputDir, decide, taken_message


DONE_DETAILS = ("seconds", "timings", "warnings", "worker", "device")  # kept in a done row's record


@dataclass(frozen=True)
class StageUpdate:
    """A running row's progress: step ``step`` of ``total`` of ``stage``; on some steps, with
    ``EditorSpec.previews_px``, a small JPEG ``preview`` of the image so far."""

    index: int
    stage: str
    step: int
    total: int
    preview: bytes | None = None


class StopFlag:
    """Whether the driver asked a worker to stop the row ``index``: ``shared.value`` holds the
    index of the row to stop (a multiprocessing Value shared with a worker process; a plain
    holder in a Ray actor), so that a request meant for one row never stops the next. The
    edit polls ``is_set`` at each step and stage, as it would a threading.Event."""

    def __init__(self, shared, index: int):
        self.shared, self.index = shared, index

    def is_set(self) -> bool:
        return self.shared.value == self.index


@dataclass(frozen=True)
class RowOutcome:
    """What became of a row: ``done`` now, ``skipped`` (done before), ``failed`` with ``error``,
    or ``stopped`` (its driver asked: ``hairedit serve``'s cancel)."""

    index: int
    status: Literal["done", "skipped", "failed", "stopped"]
    photo: str
    output: str
    key: str
    origin: str = ""
    error: str | None = None
    seconds: float = 0.0  # the edit's time
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    warnings: tuple[str, ...] = ()
    worker: str = ""  # host:pid
    device: str = ""

    @classmethod
    def of(cls, task: RowTask, status: str, **details) -> RowOutcome:
        row = task.row
        return cls(task.index, status, row.photo, row.output, task.key, row.origin, **details)


def outcome_without_work(task: RowTask, decision: Decision, outdir: OutputDir) -> RowOutcome | None:
    """The outcome of a row that needs no edit (done before, refused before, or its output
    name taken); None when it must run."""
    if decision is Decision.SKIP:
        return _done_before(task, outdir)
    if decision is Decision.FAILED_BEFORE:
        return RowOutcome.of(task, "failed", error=outdir.failure(task.row.output, task.key))
    if decision is Decision.TAKEN:
        return RowOutcome.of(task, "failed", error=taken_message(outdir.where(task.row.output)))
    return None


def _done_before(task: RowTask, outdir: OutputDir) -> RowOutcome:
    """A row done by an earlier run, with the timings, warnings and worker its run recorded."""
    record = outdir.record(task.row.output, task.key, "done")
    details = {name: record[name] for name in DONE_DETAILS if name in record}
    return RowOutcome.of(task, "skipped", **details | {"warnings": tuple(details.get("warnings", ()))})


class Worker:
    """Holds one editor (networks load before the first row that needs them) and runs rows with it."""

    def __init__(self, editor: EditorSpec, device: str | None, outdir: OutputDir):
        import torch

        keep_freed_memory()  # a worker's process (Ray's, or a local one) is not started by the command line
        torch.set_num_threads(editor.cpu_threads)
        self.spec = editor
        self.editor = editor.build(device)
        self.previews_px = editor.previews_px
        self.outdir = outdir
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, task: RowTask, on_stage: Callable[[StageUpdate], None] | None = None,
            stop: StopFlag | None = None) -> RowOutcome:
        """Edit one row and commit it (see ``outputs``). A row the inputs make impossible
        fails with ``edit``'s message, recorded so that reruns do not try again; an
        unexpected error fails the row unrecorded (a rerun tries again). A row ``stop``ped
        ends ``stopped`` at its edit's next step or stage, its output not written."""
        out, row = self.outdir, task.row
        decision = decide(out.states(row.output), task.key, out.exists(row.output), task.overwrite)
        known = outcome_without_work(task, decision, out)
        if known is not None:
            return known
        config = self.spec.config_for(row.config)
        self.editor.load_networks(row.preset, config)  # not part of the edit's seconds
        who = {"worker": self.name, "device": str(self.editor.components.device)}
        out.mark(row.output, task.key, "writing", {**who, "networks": task.networks})
        start = time.perf_counter()

        def report(progress) -> None:
            if on_stage is not None:
                preview = _small_jpeg(progress.preview, self.previews_px)
                on_stage(StageUpdate(task.index, progress.stage, progress.step, progress.total, preview))

        try:
            result = self.editor.edit(row.photo, face=row.face, seed=row.seed, preset=row.preset, config=config,
                                      callback=report, cancel=stop, previews=self.previews_px > 0, **row.conditions)
            seconds = time.perf_counter() - start
            out.save_result(result, row.output)
        except EditInterrupted as error:
            if stop is None or not stop.is_set():
                raise
            return RowOutcome.of(task, "stopped", error=str(error), **who)
        except InputError as error:
            out.mark(row.output, task.key, "failed", {"error": str(error), **who})
            return RowOutcome.of(task, "failed", error=str(error), **who)
        except HaireditError:
            raise  # missing weights, an interruption: not this row's fault, the batch stops
        except Exception as error:  # noqa: BLE001 - one row's bug (or a full disk) must not stop a batch of thousands
            return RowOutcome.of(task, "failed", error=f"{type(error).__name__}: {error}", **who)
        details = {"seconds": seconds, "timings": dict(result.timings), "warnings": tuple(result.warnings), **who}
        out.mark(row.output, task.key, "done", {**details, "networks": task.networks})  # a rerun reports the row with these
        return RowOutcome.of(task, "done", **details)


def _small_jpeg(image, size_px: int) -> bytes | None:
    """An (H, W, 3) uint8 image as a JPEG at most ``size_px`` a side; None without one."""
    if image is None or size_px <= 0:
        return None
    import io

    from PIL import Image

    small = Image.fromarray(image)
    small.thumbnail((size_px, size_px))
    encoded = io.BytesIO()
    small.save(encoded, format="JPEG", quality=85)
    return encoded.getvalue()
