"""Workers on this machine: the driver itself (one worker), or worker processes, one per
``--workers`` slot or per ``--devices`` entry.

Both offer what the engine's dispatch needs: ``slots``, ``ready(slot)`` (started),
``alive(slot)`` (not dead for good), ``submit(slot, task)``, ``finished(timeout) -> [(slot,
outcome)]`` (passing stage updates to ``on_event`` meanwhile) and ``close()``; worker processes
(and Ray actors) also ``stop(slot, index)``: the row running there ends ``stopped``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool

from .editor import EditorSpec
from .keys import RowTask
from .outputs import OutputDir
from .worker import RowOutcome, StopFlag, Worker

ROW_ATTEMPTS = 3  # a row whose worker dies this often is reported failed, not retried for ever


def worker_died(attempts: int, detail: str = "") -> str:
    return f"the worker editing this row died {attempts} times{': ' + detail if detail else ''}; out of memory?"


class InlinePool:
    """One worker in the driver's own process: nothing to start, tracebacks where you are."""

    slots = 1

    def __init__(self, editor: EditorSpec, device: str | None, outdir: OutputDir, on_event: Callable):
        import torch

        self.threads = torch.get_num_threads()  # the caller's, given back on close
        self.worker = Worker(editor, device, outdir)
        self.on_event = on_event
        self.task: RowTask | None = None

    def submit(self, slot: int, task: RowTask) -> None:
        self.task = task

    def finished(self, timeout: float) -> list[tuple[int, RowOutcome]]:
        task, self.task = self.task, None
        return [(0, self.worker.run(task, self.on_event))]

    def ready(self, slot: int) -> bool:
        return True

    def alive(self, slot: int) -> bool:
        return True

    def close(self) -> None:
        import torch

        torch.set_num_threads(self.threads)


class ProcessPool:
    """One process per slot, each with its own editor; a process that dies is replaced and
    its row tried again (``ROW_ATTEMPTS`` in all)."""

    def __init__(self, editor: EditorSpec, devices: list[str | None], outdir: OutputDir, on_event: Callable):
        self.editor, self.devices, self.outdir, self.on_event = editor, devices, outdir, on_event
        self.slots = len(devices)
        self.context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        self.running: dict[futures.Future, tuple[int, RowTask]] = {}
        self.attempts: Counter[int] = Counter()
        self.executors = [self._start(slot) for slot in range(self.slots)]

    def _start(self, slot: int) -> tuple[futures.ProcessPoolExecutor, multiprocessing.Queue, Any]:
        events = self.context.Queue()
        stop = self.context.Value("q", -1, lock=False)  # the index of the row to stop (one writer: the driver)
        executor = futures.ProcessPoolExecutor(
            1, mp_context=self.context, initializer=_start_worker,
            initargs=(self.editor, self.devices[slot], self.outdir, events, stop),
        )
        return executor, events, stop

    def submit(self, slot: int, task: RowTask) -> None:
        self.running[self.executors[slot][0].submit(_run_row, task)] = (slot, task)

    def stop(self, slot: int, index: int) -> None:
        """Stop the row ``index`` if it runs in ``slot`` (at its edit's next step or stage)."""
        self.executors[slot][2].value = index

    def finished(self, timeout: float) -> list[tuple[int, RowOutcome]]:
        done, _ = futures.wait(self.running, timeout, return_when=futures.FIRST_COMPLETED)
        self._pass_events()
        results = []
        for future in done:
            slot, task = self.running.pop(future)
            try:
                results.append((slot, future.result()))
            except BrokenProcessPool:
                self.attempts[task.index] += 1
                self.executors[slot][0].shutdown(wait=False)
                self.executors[slot] = self._start(slot)
                if self.attempts[task.index] < ROW_ATTEMPTS:
                    self.submit(slot, task)
                else:
                    results.append((slot, RowOutcome.of(task, "failed", error=worker_died(ROW_ATTEMPTS))))
        return results

    def _pass_events(self) -> None:
        for _, events, _ in self.executors:
            while True:
                try:
                    self.on_event(events.get_nowait())
                except queue.Empty:
                    break

    def ready(self, slot: int) -> bool:
        return True

    def alive(self, slot: int) -> bool:
        return True

    def close(self) -> None:
        for executor, _, _ in self.executors:
            executor.shutdown(wait=True, cancel_futures=True)


# -- in the worker processes ------------------------------------------------------------------

_worker: Worker | None = None
_events = None
_stop = None


def _start_worker(editor: EditorSpec, device: str | None, outdir: OutputDir, events, stop) -> None:
    global _worker, _events, _stop
    _die_with_the_driver()
    _worker, _events, _stop = Worker(editor, device, outdir), events, stop


def _run_row(task: RowTask) -> RowOutcome:
    return _worker.run(task, _events.put, StopFlag(_stop, task.index))


def _die_with_the_driver() -> None:
    """A driver killed with SIGKILL takes its workers along (Linux), so that no orphan goes on
    writing while a rerun starts."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the driver died before the call
        os._exit(1)
