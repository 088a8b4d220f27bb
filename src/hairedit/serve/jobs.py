"""The durable job queue: one SQLite database (WAL) and, beside it, a
folder per job for its inputs and the batch output folder for its results.

A job's inputs are written into ``jobs/<id>/`` before its row is committed, so a committed
job always has its files; a folder without a row (the server died between the two) is
removed at the next start. Jobs that were running when the server died are queued again at
the next start, ahead of later jobs (the queue is ordered by submission); their worker
replaces its own half-written output (``batch.outputs``' commit protocol).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..batch.manifest import BatchRow
from ..errors import InputError
from ..output_paths import check_writable_folder

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
DATABASE = "jobs.sqlite3"
JOBS = "jobs"
RESULTS = "results"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order, and the batch task's index
    id TEXT UNIQUE NOT NULL,
    owner TEXT NOT NULL,
    idempotency_key TEXT,
    state TEXT NOT NULL,
    row TEXT NOT NULL,  -- the batch row (JSON)
    key TEXT NOT NULL,  -- its batch row key
    group_key TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    edit_seconds REAL, timings TEXT, warnings TEXT, error TEXT, worker TEXT,
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
"""


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Job:
    """One job as stored: its batch row, where it stands, and how its edit went."""

    seq: int  # queue order, and the batch task's index
    id: str
    owner: str  # the API key's name
    idempotency_key: str | None
    state: str  # one of STATES
    row: BatchRow
    key: str  # the batch row key
    group_key: str
    created: float  # Unix seconds
    started: float | None = None
    finished: float | None = None
    attempts: int = 0  # runs started
    edit_seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    worker: str | None = None  # host:pid of the last worker
    position: int | None = None  # jobs ahead of it while queued (filled by JobStore.get)

    @property
    def format(self) -> str:
        """The result's extension (the upload's format)."""
        return self.row.output.rsplit(".", 1)[1]

    def view(self, live: tuple[str, int, int] | None = None) -> dict:
        """What a client sees (JSON); ``live``: a running job's (stage, step, total)."""
        stage, step, total = live if live is not None and self.state == "running" else (None, None, None)
        base = f"/v1/edits/{self.id}"
        return {
            "id": self.id, "state": self.state, "position": self.position,
            "stage": stage, "progress": None if not total else step / total,
            "timings": self.timings, "edit_seconds": self.edit_seconds, "warnings": self.warnings,
            "error": self.error, "attempts": self.attempts,
            "created": self.created, "started": self.started, "finished": self.finished, "format": self.format,
            "urls": {"status": base, "result": f"{base}/result", "crop": f"{base}/crop", "events": f"{base}/events"},
        }


class QueueFull(Exception):
    """``max_queued`` jobs are queued: a submission must wait."""

    def __init__(self, max_queued: int):
        super().__init__(f"the queue is full ({max_queued} edits); try again later.")


class StorageError(OSError):
    """The server could not store a submission (a full disk); nothing was kept."""


class JobStore:
    """The queue. One connection, used under a lock by the web server's threads and the scheduler."""

    def __init__(self, data_dir: Path, power_safe: bool = False):
        self.data_dir = Path(data_dir).expanduser().absolute()
        _check_writable(self.data_dir)
        self.jobs_dir = self.data_dir / JOBS
        self.results_dir = self.data_dir / RESULTS
        self.jobs_dir.mkdir(exist_ok=True)
        self.results_dir.mkdir(exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.data_dir / DATABASE, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: a commit survives the process's death (kill -9) at once; FULL also waits
        # for the disk (milliseconds a commit), so that it survives a power cut.
        self.db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- after a restart ---------------------------------------------------------------------

    def recover(self) -> int:
        """Queue again the jobs that were running when the server stopped; remove the folders
        of jobs never committed. Returns how many jobs were queued again."""
        with self.lock:
            requeued = self.db.execute(
                "UPDATE jobs SET state='queued' WHERE state='running'").rowcount
            known = {row["id"] for row in self.db.execute("SELECT id FROM jobs")}
        for folder in self.jobs_dir.iterdir():
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        return requeued

    # -- submitting ------------------------------------------------------------------------------

    def job_folder(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def add(self, job_id: str, owner: str, idempotency_key: str | None, row: BatchRow, key: str, group: str,
            max_queued: int | None = None) -> Job:
        """Commit a job whose inputs are in its folder; the job already made with the same
        ``idempotency_key`` by the same owner when there is one (this one's folder is removed).
        QueueFull (its folder removed) when ``max_queued`` jobs are queued already: the bound
        holds however many submissions arrive at once."""
        try:
            with self.lock:
                added = self.db.execute(
                    "INSERT INTO jobs (id, owner, idempotency_key, state, row, key, group_key, created) "
                    "SELECT ?, ?, ?, 'queued', ?, ?, ?, ? "
                    "WHERE ? IS NULL OR (SELECT COUNT(*) FROM jobs WHERE state='queued') < ?",
                    (job_id, owner, idempotency_key, json.dumps(asdict(row)), key, group, time.time(), max_queued,
                     max_queued)).rowcount
        except sqlite3.IntegrityError:  # the same key submitted twice at once
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)
            return self.by_idempotency_key(owner, idempotency_key)
        except sqlite3.OperationalError as error:  # a full disk, a folder gone read-only
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)
            raise StorageError(f"the server cannot store the job ({error}); try again later.") from None
        if not added:
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)
            raise QueueFull(max_queued)
        return self.get(job_id)

    def by_idempotency_key(self, owner: str, idempotency_key: str | None) -> Job | None:
        if idempotency_key is None:
            return None
        with self.lock:
            row = self.db.execute("SELECT * FROM jobs WHERE owner=? AND idempotency_key=?",
                                  (owner, idempotency_key)).fetchone()
        return _job(row)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, with its place in the queue; None when unknown (or another owner's)."""
        with self.lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or (owner is not None and row["owner"] != owner):
                return None
            if row["state"] != "queued":
                return _job(row)
            ahead = self.db.execute("SELECT COUNT(*) FROM jobs WHERE state='queued' AND seq<?", (row["seq"],))
            return replace(_job(row), position=ahead.fetchone()[0])

    def counts(self) -> dict[str, int]:
        with self.lock:
            found = dict(self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
        return {state: found.get(state, 0) for state in STATES}

    def pending_of(self, owner: str) -> int:
        """Jobs of ``owner`` not finished yet."""
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM jobs WHERE owner=? AND state IN ('queued', 'running')",
                                   (owner,)).fetchone()[0]

    # -- the scheduler's side ------------------------------------------------------------------

    def claim_next(self) -> Job | None:
        """The oldest queued job, now running; None when none is queued."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT * FROM jobs WHERE state='queued' ORDER BY seq LIMIT 1").fetchone()
                if row is not None:
                    self.db.execute("UPDATE jobs SET state='running', started=?, attempts=attempts+1 WHERE seq=?",
                                    (time.time(), row["seq"]))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        if row is None:
            return None
        job = _job(row)
        return replace(job, state="running", attempts=job.attempts + 1)

    def finish(self, seq: int, state: str, **details: Any) -> bool:
        """A running job's end; False when it is no longer running (cancelled meanwhile)."""
        values = {name: json.dumps(value) if name in ("timings", "warnings") else value
                  for name, value in details.items()}
        assignments = "".join(f", {name}=?" for name in values)
        with self.lock:
            return self.db.execute(f"UPDATE jobs SET state=?, finished=?{assignments} WHERE seq=? AND state='running'",
                                   (state, time.time(), *values.values(), seq)).rowcount == 1

    def cancel(self, job_id: str) -> bool:
        """Queued or running -> cancelled; False when the job had finished already."""
        with self.lock:
            return self.db.execute("UPDATE jobs SET state='cancelled', finished=? WHERE id=? AND state IN "
                                   "('queued', 'running')", (time.time(), job_id)).rowcount == 1

    def delete(self, job_id: str) -> None:
        """A finished job's record and files."""
        with self.lock:
            self.db.execute("DELETE FROM jobs WHERE id=? AND state IN ('done', 'failed', 'cancelled')", (job_id,))
        self.remove_files(job_id)

    def remove_files(self, job_id: str) -> None:
        from .storage import job_files

        for path in [self.job_folder(job_id), *job_files(self.results_dir, job_id)]:
            shutil.rmtree(path, ignore_errors=True)

    def expire(self, keep_hours: float) -> int:
        """Remove the jobs finished more than ``keep_hours`` ago, files and all."""
        with self.lock:
            old = [row["id"] for row in self.db.execute(
                "SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished<?",
                (time.time() - keep_hours * 3600,))]
        for job_id in old:
            self.delete(job_id)
        return len(old)


def _job(row: sqlite3.Row | None) -> Job | None:
    if row is None:
        return None
    values = dict(row)
    return Job(**values | {
        "row": BatchRow(**json.loads(values["row"])),
        "timings": json.loads(values["timings"]) if values["timings"] else {},
        "warnings": json.loads(values["warnings"]) if values["warnings"] else [],
    })


def _check_writable(folder: Path) -> None:
    """Refuse to start on a folder the queue cannot live in, saying why."""
    try:
        check_writable_folder(folder)
        folder.mkdir(parents=True, exist_ok=True)
    except (InputError, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise InputError(f"--data-dir {folder}: cannot write there ({reason}); give a folder this user can write.") from None
