"""The batch engine behind ``hairedit batch`` and ``hairedit.batch.run_batch``.

1. Plan: every row gets its options, output name and key; a malformed list is refused here.
2. Triage against the output folder: rows done before are skipped, rows refused before are
   reported again, all without loading a network.
3. Dispatch the rest to workers (the driver itself, processes, or Ray actors). A worker takes
   a whole group (the rows of one face of one photo) so that the photo is inverted once and
   its rows run in the same order everywhere.
4. Gather the outcomes; write ``report.jsonl``; return the summary.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

from .editor import EditorSpec
from .keys import RowDefaults, RowTask, plan_rows
from .manifest import BatchRow, ManifestError, normalise_row
from .outputs import REPORT, OutputDir, decide, index_states
from .worker import RowOutcome, StageUpdate, outcome_without_work

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class BatchPlan:
    """Sent before any work: how many rows, how many to run, on how many workers."""

    rows: int
    to_run: int
    workers: int


@dataclass
class BatchSummary:
    """Every row's outcome in the order given, and the batch's wall time."""

    outcomes: list[RowOutcome]
    seconds: float
    workers: int
    report: str = ""  # where report.jsonl was written
    redone_for_networks: int = 0  # rows done before, run again because a weight file or hairedit changed
    by_status: dict[str, list[RowOutcome]] = field(init=False)

    def __post_init__(self):
        self.by_status = {status: [o for o in self.outcomes if o.status == status] for status in
                          ("done", "skipped", "failed")}

    @property
    def done(self) -> list[RowOutcome]:
        return self.by_status["done"]

    @property
    def skipped(self) -> list[RowOutcome]:
        return self.by_status["skipped"]

    @property
    def failed(self) -> list[RowOutcome]:
        return self.by_status["failed"]

    @property
    def seconds_per_edit(self) -> float | None:
        return sum(o.seconds for o in self.done) / len(self.done) if self.done else None

    def line(self) -> str:
        text = (f"{len(self.outcomes)} rows: {len(self.done)} done, {len(self.skipped)} skipped (done before), "
                f"{len(self.failed)} failed")
        if self.done:
            text += (f"; {self.seconds_per_edit:.1f} s per edit, {len(self.done) / self.seconds * 3600:.0f} edits an "
                     f"hour on {self.workers} worker{'s' if self.workers > 1 else ''}")
        if self.redone_for_networks:
            text += (f"; {self.redone_for_networks} done before were redone: a weight file they use or hairedit's "
                     "version changed")
        return text + (f"; reasons in {self.report}" if self.failed else "")


BatchEvent = BatchPlan | StageUpdate | RowOutcome


def run_batch(
    rows: Iterable[BatchRow],
    output: str | os.PathLike,
    editor: EditorSpec | None = None,
    *,
    defaults: RowDefaults = RowDefaults(),
    overwrite: bool = False,
    workers: int | None = None,
    devices: Sequence[str] | None = None,
    cluster: str | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
) -> BatchSummary:
    """Edit every row; write each output into ``output``; return every row's outcome.

    ``workers``: processes on this machine (default one: the calling process itself), or
    Ray actors with ``cluster``; ``devices``: one worker per device, e.g. ["cuda:0", "cuda:1"].
    ``cluster``: None (this machine), "local" (start a Ray instance here, or use the one this
    process is connected to), "auto" or a Ray address (join that cluster).
    ``on_event`` gets a :class:`BatchPlan`, then :class:`StageUpdate`s and one
    :class:`RowOutcome` per row run.
    Raises ManifestError for a malformed list of rows, before any work.
    """
    start = time.perf_counter()
    editor = (editor or EditorSpec()).with_absolute_paths()
    on_event = on_event or (lambda event: None)
    rows = [normalise_row(replace(row, origin=row.origin or f"row {index + 1}")) for index, row in enumerate(rows)]
    if not rows:
        raise ManifestError("no rows to edit.")
    tasks = plan_rows(rows, editor, defaults, overwrite)
    outdir = OutputDir.at(output)
    outdir.prepare()
    with outdir.lock():
        outcomes, redone_for_networks = _outcomes_known_from_outputs(tasks, outdir, overwrite)
        todo = [task for task in tasks if task.index not in outcomes]
        groups = _groups(todo)
        wanted = workers or (len(devices) if devices else None if cluster else 1)
        pool = _pool(editor, outdir, wanted, len(groups), devices, cluster, on_event) if todo else None
        used = pool.slots if pool is not None else 0
        on_event(BatchPlan(len(tasks), len(todo), used))
        try:
            if pool is not None:
                for outcome in dispatch(groups, pool):
                    outcomes[outcome.index] = outcome
                    on_event(outcome)
        finally:
            if pool is not None:
                pool.close()
            summary = BatchSummary([outcomes[i] for i in sorted(outcomes)], time.perf_counter() - start, used,
                                   outdir.where(REPORT), redone_for_networks)
            outdir.write_report([_report_line(tasks[o.index], o) for o in summary.outcomes])
    return summary


def _report_line(task: RowTask, outcome: RowOutcome) -> dict:
    """One row of report.jsonl: what was asked (as `hairedit eval` reads it) and what became of it."""
    row = task.row
    asked = {"conditions": row.conditions, "face": row.face, "seed": row.seed, "preset": row.preset}
    result = {name: value for name, value in asdict(outcome).items() if name not in ("index", "status", "photo", "output")}
    return {"row": task.index + 1, "status": outcome.status, "photo": row.photo, "output": row.output, **asked,
            **result}


def _outcomes_known_from_outputs(tasks: list[RowTask], outdir: OutputDir, overwrite: bool
                                 ) -> tuple[dict[int, RowOutcome], int]:
    """The outcomes known from the output folder alone (one listing of it): rows done or
    refused before, outputs in the way; and how many rows to run were done before with other
    networks (a weight file or hairedit's version changed). Tidies what a killed batch left
    half-written."""
    listing = outdir.listing()
    outdir.clean_temporaries(listing)
    states = index_states(listing)
    outcomes, redone_for_networks = {}, 0
    for task in tasks:
        output = task.row.output
        known = outcome_without_work(task, decide(states.get(output, {}), task.key, output in listing, overwrite),
                                     outdir)
        if known is not None:
            outcomes[task.index] = known
        elif _done_with_other_networks(task, states.get(output, {}), outdir):
            redone_for_networks += 1
    return outcomes, redone_for_networks


def _done_with_other_networks(task: RowTask, states: dict[str, str], outdir: OutputDir) -> bool:
    """Whether the output of ``task`` was last written by a row whose networks were not this one's."""
    earlier = [key for key, status in states.items() if key != task.key and status == "done"]
    recorded = {outdir.record(task.row.output, key, "done").get("networks") for key in earlier}
    return any(networks and networks != task.networks for networks in recorded)


def _groups(tasks: list[RowTask]) -> list[list[RowTask]]:
    """Tasks by group, groups in order of first appearance, tasks in row order."""
    groups: dict[str, list[RowTask]] = {}
    for task in tasks:
        groups.setdefault(task.group, []).append(task)
    return list(groups.values())


def _pool(editor, outdir, wanted: int | None, groups: int, devices, cluster, on_event):
    """The workers: Ray actors, the calling process, or processes; never more than groups."""
    if cluster is not None:
        from .cluster import RayPool

        return RayPool(cluster, editor, outdir, wanted, groups, on_event)
    from .local import InlinePool, ProcessPool

    slots = min(wanted, groups)
    if slots == 1:
        return InlinePool(editor, devices[0] if devices else None, outdir, on_event)
    devices = list(devices) if devices else [None]
    return ProcessPool(editor, [devices[slot % len(devices)] for slot in range(slots)], outdir, on_event)


def dispatch(groups: list[list[RowTask]], pool) -> Iterable[RowOutcome]:
    """Give each idle, ready slot the next row of its group (a new group when its own is
    finished); yield outcomes as they come. A slot that dies for good hands its rows on."""
    pending = deque(deque(group) for group in groups)
    own: dict[int, deque[RowTask]] = {slot: deque() for slot in range(pool.slots)}
    busy: set[int] = set()

    def feed_idle() -> None:
        for slot in list(own):
            if slot in busy:
                continue
            if not pool.alive(slot):
                rows = own.pop(slot)
                if rows:
                    pending.appendleft(rows)
                continue
            if not own[slot] and pending:
                own[slot] = pending.popleft()
            if own[slot] and pool.ready(slot):
                pool.submit(slot, own[slot].popleft())
                busy.add(slot)

    feed_idle()
    while busy or (own and (pending or any(own.values()))):
        finished = pool.finished(POLL_SECONDS)
        busy.difference_update(slot for slot, _ in finished)
        feed_idle()  # next rows first: workers do not wait while the outcomes are handled
        yield from (outcome for _, outcome in finished)
    for group in [*own.values(), *pending]:
        for task in group:
            yield RowOutcome.of(task, "failed", error="no worker left to edit this row (every worker died).")
