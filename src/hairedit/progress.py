"""Progress reports and interruption for long optimisations."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import EditInterrupted

if TYPE_CHECKING:  # torch is imported where tensors exist: the CLI imports this module before it
    import torch

PREVIEWS_PER_STAGE = 10  # the official visual_num


@dataclass
class Progress:
    """One step of one stage: its loss, and on some steps a ``preview`` (H, W, 3) uint8.

    A stage's start is reported as step 0 of 1, and the end of a stage without steps of its
    own (forward passes only) as step 1 of 1; only an optimisation step has a ``loss``.
    """

    stage: str
    step: int
    total: int
    loss: float | None = None
    preview: np.ndarray | None = None


ProgressCallback = Callable[[Progress], None]


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    array = ((image[0].detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return array.permute(1, 2, 0).byte().cpu().numpy()


class Reporter:
    """Passes progress to a callback and stops the work when ``cancel`` is set."""

    def __init__(
        self,
        callback: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        previews: bool = True,  # each preview costs a full synthesis
    ):
        self.callback = callback
        self.cancel = cancel
        self.previews = previews
        self._steps = 0  # optimisation steps reported so far

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise EditInterrupted("the edit was stopped.")

    @contextlib.contextmanager
    def stage(self, stage: str, start: bool = True, end: bool = True) -> Iterator[None]:
        """One stage of an edit. Stop is checked as it starts and as it ends, so that stages of
        forward passes only stop too. Its start is reported (step 0 of 1; ``start``) and, unless
        it reported optimisation steps, its end (step 1 of 1; ``end``): every stage shows."""
        self.check()
        steps_before = self._steps
        if start:
            self._report(Progress(stage, 0, 1))
        yield
        self.check()
        if end and self._steps == steps_before:
            self._report(Progress(stage, 1, 1))

    def _report(self, progress: Progress) -> None:
        if self.callback is not None:
            self.callback(progress)

    def step(
        self,
        stage: str,
        step: int,
        total: int,
        loss: torch.Tensor | None = None,
        preview: Callable[[], torch.Tensor] | None = None,
    ) -> None:
        """Report ``step`` (1-based) of ``total``; ``preview`` renders an image on preview steps."""
        self.check()
        self._steps += 1
        if self.callback is None:
            return
        every = max(1, total // PREVIEWS_PER_STAGE)
        image = None
        if self.previews and preview is not None and (step % every == 0 or step == total):
            import torch

            with torch.no_grad():
                image = to_uint8(preview())
        self.callback(Progress(stage, step, total, None if loss is None else float(loss.detach()), image))


class StageTimer:
    """Times an edit's stages (seconds per stage name, summed where a stage runs again). Each
    runs inside the reporter's ``stage``: stop is checked as it starts and ends, and its start
    and end are reported (``start``, ``end``), so stages without optimisation steps show too."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str, start: bool = True, end: bool = True) -> Iterator[None]:
        began = time.perf_counter()
        with self.reporter.stage(stage, start, end):
            yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began


class ProgressBars:
    """One tqdm bar per stage (on stderr), fed by an edit's progress reports."""

    def __init__(self, **tqdm_options):
        self.options = {"file": sys.stderr, "unit": "step", **tqdm_options}
        self.bar = None
        self.stage = None

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm

        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            self.bar = tqdm(total=progress.total, desc=f"{progress.stage:20s}", **self.options)
        elif progress.total != self.bar.total:  # a stage's start (step 0 of 1), then its loop's steps
            self.bar.reset(total=progress.total)
        self.bar.update(progress.step - self.bar.n)
        if progress.loss is not None:
            self.bar.set_postfix(loss=f"{progress.loss:.4f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
