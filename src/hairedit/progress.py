"""Progress reports and interruption for long optimisations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .errors import EditInterrupted

PREVIEWS_PER_STAGE = 10  # the official visual_num


@dataclass
class Progress:
    """One step of one stage: its loss, and on some steps a ``preview`` (H, W, 3) uint8."""

    stage: str
    step: int
    total: int
    loss: float | None = None
    preview: np.ndarray | None = None


ProgressCallback = Callable[[Progress], None]


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    array = ((image[0].detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return array.permute(1, 2, 0).to(torch.uint8).cpu().numpy()


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

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise EditInterrupted("the edit was stopped.")

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
        if self.callback is None:
            return
        every = max(1, total // PREVIEWS_PER_STAGE)
        image = None
        if self.previews and preview is not None and (step % every == 0 or step == total):
            with torch.no_grad():
                image = to_uint8(preview())
        self.callback(Progress(stage, step, total, None if loss is None else float(loss.detach()), image))
