"""Workers on a Ray cluster (``hairedit batch --ray [ADDRESS]``; ``pip install hairedit[ray]``).

One actor per GPU (or per CPU where the cluster has none) holds a loaded editor. Ray restarts
an actor whose process or node dies and runs its row again (``ROW_ATTEMPTS`` in all); a row
whose inputs are bad fails inside the actor and is reported, never retried. Outputs go where
every node can write: a shared path or an fsspec URL; the driver gathers the outcomes.
"""

from __future__ import annotations

import logging
import time
import types
from collections.abc import Callable

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
except ImportError as error:  # pragma: no cover - depends on the installation
    from ..errors import InputError

    raise InputError("--ray needs Ray: pip install 'hairedit[ray]'.") from error

from ..errors import HaireditError
from .editor import EditorSpec
from .keys import RowTask
from .local import ROW_ATTEMPTS, worker_died
from .outputs import OutputDir
from .worker import RowOutcome, StopFlag, Worker

ACTOR_RESTARTS = 4 * ROW_ATTEMPTS  # an actor killed by bad rows again and again is given up
PING_SECONDS = 120.0  # long enough for a restarted actor to come back on another node


@ray.remote(concurrency_groups={"status": 1})
class EditorActor:
    """A worker in a Ray actor; ``current_stage`` and ``stop`` answer while a row runs."""

    def __init__(self, editor: EditorSpec, outdir: OutputDir):
        self.worker = Worker(editor, "cuda" if ray.get_gpu_ids() else "cpu", outdir)
        self.stage = None
        self.stopping = types.SimpleNamespace(value=-1)  # the index of the row to stop

    def run(self, task: RowTask) -> RowOutcome:
        self.stage = None
        return self.worker.run(task, self._remember, StopFlag(self.stopping, task.index))

    def _remember(self, update) -> None:
        self.stage = update

    @ray.method(concurrency_group="status")
    def current_stage(self):
        return self.stage

    @ray.method(concurrency_group="status")
    def stop(self, index: int) -> None:
        self.stopping.value = index

    @ray.method(concurrency_group="status")
    def ping(self) -> bool:
        return True


def connect(address: str) -> bool:
    """Connect this process to Ray; True when this call started it (and must stop it)."""
    if ray.is_initialized():
        return False
    ray.init(address=None if address == "local" else address, include_dashboard=False,
             logging_level=logging.WARNING)
    return True


class RayPool:
    """The engine's pool on Ray: slot i is actor i."""

    def __init__(self, address: str, editor: EditorSpec, outdir: OutputDir, wanted: int | None, groups: int,
                 on_event: Callable):
        self.started = connect(address)
        self.on_event = on_event
        gpus = int(ray.cluster_resources().get("GPU", 0))
        per_actor = {"num_gpus": 1} if gpus else {"num_cpus": editor.cpu_threads}
        cpu_slots = int(ray.cluster_resources().get("CPU", 1)) // editor.cpu_threads
        self.slots = max(1, min(wanted or gpus or cpu_slots, groups))
        options = {**per_actor, "max_restarts": ACTOR_RESTARTS, "max_task_retries": ROW_ATTEMPTS - 1}
        self.actors = [EditorActor.options(**options).remote(editor, outdir) for _ in range(self.slots)]
        self.starting = {slot: actor.ping.remote() for slot, actor in enumerate(self.actors)}
        self.dead: set[int] = set()
        self.running: dict[ray.ObjectRef, tuple[int, RowTask]] = {}
        self.polled = 0

    def ready(self, slot: int) -> bool:
        """Started: an actor waiting for a node (an autoscaling cluster) gets no rows yet."""
        if slot in self.starting:
            started, _ = ray.wait([self.starting[slot]], timeout=0)
            if not started:
                return False
            try:
                ray.get(self.starting.pop(slot))
            except RayActorError as error:
                self.dead.add(slot)
                if len(self.dead) == self.slots:
                    raise HaireditError(f"no Ray worker could start: {_first_line(error)}") from None
                return False
        return slot not in self.dead

    def submit(self, slot: int, task: RowTask) -> None:
        self.running[self.actors[slot].run.remote(task)] = (slot, task)

    def stop(self, slot: int, index: int) -> None:
        """Stop the row ``index`` if it runs (or is about to run) on actor ``slot``."""
        self.actors[slot].stop.remote(index)

    def finished(self, timeout: float) -> list[tuple[int, RowOutcome]]:
        if not self.running:
            time.sleep(timeout)  # actors still starting
            return []
        ready, _ = ray.wait(list(self.running), num_returns=1, timeout=timeout)
        self._show_a_stage()
        results = []
        for ref in ready:
            slot, task = self.running.pop(ref)
            try:
                results.append((slot, ray.get(ref)))
            except RayActorError as error:
                results.append((slot, RowOutcome.of(task, "failed", error=worker_died(ROW_ATTEMPTS, _first_line(error)))))
                self._check(slot)
            except RayTaskError as error:
                if isinstance(error.cause, HaireditError):
                    raise error.cause from None  # missing weights and the like: the batch stops, in one line
                raise
        return results

    def _show_a_stage(self) -> None:
        """The stage of one running row, a different one each time (one call, not one per actor)."""
        running = sorted({slot for slot, _ in self.running.values()})
        if not running:
            return
        self.polled = (self.polled + 1) % len(running)
        try:
            stage = ray.get(self.actors[running[self.polled]].current_stage.remote(), timeout=1.0)
        except (GetTimeoutError, RayActorError):
            return
        if stage is not None:
            self.on_event(stage)

    def _check(self, slot: int) -> None:
        try:
            ray.get(self.actors[slot].ping.remote(), timeout=PING_SECONDS)
        except (GetTimeoutError, RayActorError):
            self.dead.add(slot)

    def alive(self, slot: int) -> bool:
        return slot not in self.dead

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        if self.started:
            ray.shutdown()


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
