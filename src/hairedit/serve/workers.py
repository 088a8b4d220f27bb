"""The scheduler: a thread of the web server that takes queued jobs from the store and runs
them on the batch engine's workers (``batch.local.ProcessPool``: worker processes that keep
their networks loaded; ``batch.cluster.RayPool`` with ``--ray``), never in the event loop.

Progress goes to an :class:`EventLog` (server-sent events) and ``live`` (the status); a job
cancelled while it runs is stopped on its worker at its edit's next step or stage (the pool's
``stop``), its files removed, and the worker takes the next job.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable

from ..batch.keys import RowTask
from ..batch.worker import RowOutcome, StageUpdate
from .jobs import Job, JobStore
from .settings import ServeSettings
from .storage import ServeDir

log = logging.getLogger("hairedit")

IDLE_SECONDS = 60.0  # how long an idle scheduler sleeps before it expires old jobs
BUSY_POLL_SECONDS = 0.1  # every worker busy: wait this long for one to finish
IDLE_SLOT_POLL_SECONDS = 0.01  # a worker idle while others run: look for new jobs this often
EVENTS_PER_JOB = 500  # the most events a job's log holds (a long edit's steps)
EVENT_LOG_SECONDS = 60.0  # a finished job's events are kept this long for late listeners


class EventLog:
    """Each job's events in order, for ``/events``; listeners are woken through ``on_append``.
    A listener counts the events it has had; a long edit's oldest events are dropped."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: dict[str, list[tuple[str, dict]]] = {}
        self.dropped: dict[str, int] = {}  # events dropped from the front of each job's list
        self.ended: dict[str, float] = {}
        self.on_append: Callable[[str], None] = lambda job_id: None

    def append(self, job_id: str, kind: str, data: dict, final: bool = False) -> None:
        with self.lock:
            events = self.events.setdefault(job_id, [])
            events.append((kind, data))
            if len(events) > EVENTS_PER_JOB:
                self.dropped[job_id] = self.dropped.get(job_id, 0) + len(events) - EVENTS_PER_JOB
                del events[:len(events) - EVENTS_PER_JOB]
            if final:
                self.ended[job_id] = time.monotonic()
        self.on_append(job_id)

    def since(self, job_id: str, count: int) -> tuple[list[tuple[str, dict]], int]:
        """The events after the first ``count`` (those still kept), and the count after them."""
        with self.lock:
            events, dropped = self.events.get(job_id, []), self.dropped.get(job_id, 0)
            return events[max(count - dropped, 0):], dropped + len(events)

    def forget_old(self) -> None:
        with self.lock:
            for job_id, ended in list(self.ended.items()):
                if time.monotonic() - ended > EVENT_LOG_SECONDS:
                    self.events.pop(job_id, None)
                    self.dropped.pop(job_id, None)
                    del self.ended[job_id]


class Scheduler:
    """Feeds queued jobs to the workers; ``ready`` once every worker has its networks loaded."""

    def __init__(self, store: JobStore, settings: ServeSettings, events: EventLog,
                 on_outcome: Callable[[RowOutcome], None] = lambda outcome: None):
        self.store, self.settings, self.events, self.on_outcome = store, settings, events, on_outcome
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.maybe_queued = True
        self.ready = False
        self.error: str | None = None  # why the workers could not start
        self.running: dict[int, Job] = {}  # seq -> job
        self.busy: dict[int, int] = {}  # slot -> the seq of the job running there
        self.lock = threading.Lock()  # busy and running: the scheduler's thread and stop_job
        self.pool = None
        self.live: dict[str, tuple[str, int, int]] = {}  # job id -> (stage, step, total)
        self.thread = threading.Thread(target=self._run, name="hairedit-scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join()

    def notify(self) -> None:
        """A job was queued."""
        self.maybe_queued = True
        self.wake.set()

    def stop_job(self, job_id: str) -> None:
        """A running job was cancelled: its worker stops the edit at its next step or stage."""
        with self.lock:
            for slot, seq in self.busy.items():
                if self.running[seq].id == job_id:
                    self.pool.stop(slot, seq)

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            pool = self.pool = self._pool()
        except Exception as error:  # noqa: BLE001 - reported by /readyz and in the log
            self.error = f"the workers could not start: {error}"
            log.error(self.error)
            return
        try:
            self._warm(pool)
            self.ready = True
            self._loop(pool)
        except Exception as error:  # noqa: BLE001 - reported by /readyz; the jobs stay queued for a restart
            self.ready, self.error = False, f"the scheduler stopped: {type(error).__name__}: {error}"
            log.exception(self.error)
        finally:
            pool.close()

    def _pool(self):
        settings = self.settings
        editor, outdir = settings.editor.with_absolute_paths(), ServeDir(self.store.results_dir)
        if settings.ray is not None:
            from ..batch.cluster import RayPool

            return RayPool(settings.ray, editor, outdir, settings.workers, settings.workers, self._on_stage)
        from ..batch.local import ProcessPool

        devices = list(settings.devices) or [None]
        slots = max(settings.workers, len(settings.devices))
        return ProcessPool(editor, [devices[slot % len(devices)] for slot in range(slots)], outdir, self._on_stage)

    def _warm(self, pool) -> None:
        """Every worker started with its networks loaded, so that no job's time includes loading."""
        if hasattr(pool, "executors"):  # worker processes
            for done in [executor.submit(_load_networks) for executor, _, _ in pool.executors]:
                done.result()
            return
        while not all(pool.ready(slot) for slot in range(pool.slots)) and not self.stopping.is_set():
            time.sleep(0.1)

    def _loop(self, pool) -> None:
        busy = self.busy
        last_sweep = 0.0
        while not self.stopping.is_set():
            self.wake.clear()
            self._feed(pool, busy)
            if time.monotonic() - last_sweep > IDLE_SECONDS:
                self.store.expire(self.settings.keep_hours)
                self.events.forget_old()
                last_sweep = time.monotonic()
            if not busy:
                self.wake.wait(IDLE_SECONDS)
                continue
            timeout = BUSY_POLL_SECONDS if len(busy) == pool.slots else IDLE_SLOT_POLL_SECONDS
            for slot, outcome in pool.finished(timeout):
                with self.lock:
                    busy.pop(slot, None)
                self._finished(outcome)

    def _feed(self, pool, busy: dict[int, int]) -> None:
        for slot in range(pool.slots):
            if slot in busy or not self.maybe_queued or not (pool.alive(slot) and pool.ready(slot)):
                continue
            self.maybe_queued = False  # before looking: a job queued meanwhile sets it again
            job = self.store.claim_next()
            if job is None:
                return
            self.maybe_queued = True
            self.events.append(job.id, "state", {"state": "running", "attempt": job.attempts})
            with self.lock:
                self.running[job.seq] = job
                pool.submit(slot, RowTask(job.seq, job.row, job.key, job.group_key))
                busy[slot] = job.seq

    def _on_stage(self, update: StageUpdate) -> None:
        job = self.running.get(update.index)
        if job is None:
            return
        previous = self.live.get(job.id)
        if previous is None or previous[0] != update.stage:
            if previous is not None:
                self.events.append(job.id, "stage_end", {"stage": previous[0]})
            self.events.append(job.id, "stage_start", {"stage": update.stage})
        self.live[job.id] = (update.stage, update.step, update.total)
        self.events.append(job.id, "step", {"stage": update.stage, "step": update.step, "total": update.total})
        if update.preview is not None:
            self.events.append(job.id, "preview", {"stage": update.stage, "step": update.step,
                                                      "jpeg": base64.b64encode(update.preview).decode()})

    def _finished(self, outcome: RowOutcome) -> None:
        with self.lock:
            job = self.running.pop(outcome.index, None)
        if job is None:
            return
        stage = self.live.pop(job.id, None)
        if outcome.status == "stopped":  # cancelled while it ran (the cancel sent its events)
            self.store.remove_files(job.id)
            return
        if stage is not None:
            self.events.append(job.id, "stage_end", {"stage": stage[0]})
        if outcome.status == "failed":
            state, details = "failed", {"error": outcome.error, "worker": outcome.worker}
        else:  # done now, or done before a restart (skipped): either way its result is there
            state, details = "done", {"edit_seconds": outcome.seconds, "timings": outcome.timings,
                                      "warnings": list(outcome.warnings), "worker": outcome.worker}
        if not self.store.finish(outcome.index, state, **details):
            self.store.remove_files(job.id)  # cancelled while it ran (the cancel sent its event)
            return
        self.on_outcome(outcome)
        # The job as its status reads, so that a listener needs no other request.
        self.events.append(job.id, "state", self.store.get(job.id).view(), final=True)


def _load_networks() -> None:
    """In a worker process: load the editor's networks now rather than on the first job."""
    from ..batch import local

    local._worker.editor.load_networks()
