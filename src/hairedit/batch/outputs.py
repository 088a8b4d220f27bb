"""Where a batch writes, and how it knows which rows are done.

The output folder is a local or shared path, or an fsspec URL (``s3://bucket/out`` where
``s3fs`` is installed). Beside the outputs it holds ``report.jsonl`` and, for each output
file ``NAME``, a folder ``.hairedit-batch/rows/NAME/`` whose one file ``<key>.<status>`` says
which row (by key) last wrote there and how far it got: ``writing`` (started), ``done`` (the
output is written) or ``failed`` (its inputs are bad; the file holds the reason). A row's
commit is

    1. write <key>.writing, remove the states of other keys
    2. write the output (atomically: temporary file, then rename)
    3. write <key>.done             4. remove <key>.writing

so wherever a SIGKILL lands, a rerun finds either the row done with its whole output, or
the row started (it runs again, replacing its own output), never a half-written file taken
for finished. An output whose row has another key (a photo or a setting changed) is the
batch's own and is redone; a file no row wrote is never replaced without ``--overwrite``.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import errno
import json
import os
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..output_paths import check_name_length, check_writable_folder

STATE_DIR = ".hairedit-batch"
ROWS = f"{STATE_DIR}/rows"
LOCK = f"{STATE_DIR}/lock"  # held by the driver of the batch writing here
REPORT = "report.jsonl"
STATUSES = ("done", "failed", "writing")  # when several files exist for a key, the first wins
TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")  # the temporary names of atomic writes

States = dict[str, str]  # key -> status, for one output


class Decision(enum.Enum):
    RUN = "run"
    SKIP = "skip"  # done before, its output is there
    FAILED_BEFORE = "failed before"  # its inputs were refused before; --overwrite tries again
    TAKEN = "taken"  # the output name holds a file no row wrote


def decide(states: States, key: str, output_exists: bool, overwrite: bool) -> Decision:
    """What to do with the row ``key`` writing an output whose recorded ``states`` are these."""
    status = states.get(key)
    if overwrite:
        return Decision.RUN
    if status == "done" and output_exists:
        return Decision.SKIP
    if status == "failed":
        return Decision.FAILED_BEFORE
    if not states and output_exists:
        return Decision.TAKEN
    return Decision.RUN  # never run, killed mid-row, its output deleted since, or other inputs before


def taken_message(location: str) -> str:
    return f"{location} already exists; pass --overwrite to replace it, or choose another name."


def index_states(listing: set[str]) -> dict[str, States]:
    """{output: {key: status}} from a listing of the output folder."""
    index: dict[str, States] = {}
    for name in listing:
        if not name.startswith(ROWS + "/"):
            continue
        output, _, state = name[len(ROWS) + 1:].rpartition("/")
        key, _, status = state.rpartition(".")
        if status in STATUSES:
            _record(index.setdefault(output, {}), key, status)
    return index


def _record(states: States, key: str, status: str) -> None:
    if key not in states or STATUSES.index(status) < STATUSES.index(states[key]):
        states[key] = status


class OutputDir(abc.ABC):
    """A batch's output folder; see the module notes. Picklable: workers get a copy."""

    def __init__(self, location: str | os.PathLike):
        self.location = str(location).rstrip("/") or "/"

    @staticmethod
    def at(location: str | os.PathLike) -> OutputDir:
        """The folder at a URL or a path; a path is made absolute here, on the driver, because
        workers (Ray actors) run in folders of their own."""
        if "://" in str(location):
            return RemoteDir(location)
        return LocalDir(Path(location).expanduser().absolute())

    def where(self, name: str) -> str:
        return f"{self.location}/{name}"

    # -- row states ------------------------------------------------------------------------

    def states(self, output: str) -> States:
        states: States = {}
        for state in self.names_in(f"{ROWS}/{output}"):
            key, _, status = state.rpartition(".")
            if status in STATUSES:
                _record(states, key, status)
        return states

    def failure(self, output: str, key: str) -> str:
        """The reason recorded for a failed row."""
        return self.record(output, key, "failed").get("error") or "refused by an earlier run (reason lost)"

    def record(self, output: str, key: str, status: str) -> dict[str, Any]:
        """What the row ``key`` recorded with ``status`` (see :meth:`mark`); {} where unreadable."""
        try:
            record = json.loads(self.read_bytes(f"{ROWS}/{output}/{key}.{status}"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def mark(self, output: str, key: str, status: str, record: dict[str, Any]) -> None:
        """Record ``status`` for the row ``key`` of ``output``, then remove what it supersedes:
        starting supersedes other rows' states (their output is about to be replaced), an
        end (done, failed) this row's earlier state."""
        folder, mine = f"{ROWS}/{output}", f"{key}.{status}"
        self.write_bytes(f"{folder}/{mine}", json.dumps(record).encode())
        for name in self.names_in(folder):
            same_row = name.rpartition(".")[0] == key
            if name != mine and (not same_row if status == "writing" else same_row):
                self.remove(f"{folder}/{name}")

    def write_report(self, lines: list[dict[str, Any]]) -> None:
        self.write_bytes(REPORT, "".join(json.dumps(line) + "\n" for line in lines).encode())

    # -- storage, per kind -----------------------------------------------------------------

    @abc.abstractmethod
    def prepare(self) -> None:
        """Make the folder, or say why it cannot be."""

    @abc.abstractmethod
    def listing(self) -> set[str]:
        """Every file under the folder, by its name relative to it."""

    @abc.abstractmethod
    def exists(self, name: str) -> bool:
        """Whether the file ``name`` is there."""

    @abc.abstractmethod
    def names_in(self, folder: str) -> list[str]:
        """The names of the files directly in ``folder`` (none when it does not exist)."""

    @abc.abstractmethod
    def read_bytes(self, name: str) -> bytes:
        """The content of the file ``name``."""

    @abc.abstractmethod
    def write_bytes(self, name: str, data: bytes) -> None:
        """Write atomically, replacing any file of that name."""

    @abc.abstractmethod
    def remove(self, name: str) -> None:
        """Remove the file ``name`` if it is there."""

    @abc.abstractmethod
    def save_result(self, result, name: str) -> None:
        """Write an EditResult as ``hairedit edit`` does (``EditResult.save``: the original's
        profile, EXIF and transparency kept), atomically, replacing any file of that name."""

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held by the batch's driver while it runs."""
        yield

    def clean_temporaries(self, files: set[str]) -> None:
        """Remove what a killed batch left half-written (its temporary files)."""


class LocalDir(OutputDir):
    """A folder on this machine, or on a file system every worker mounts."""

    @property
    def root(self) -> Path:
        return Path(self.location)

    def prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} is a file; the batch needs an output folder.")
        check_name_length(self.root)
        check_writable_folder(self.root if self.root.is_dir() else self.root.parent, create=False)
        self.root.mkdir(exist_ok=True)

    def listing(self) -> set[str]:
        return {str(path.relative_to(self.root).as_posix()) for path in self.root.rglob("*") if path.is_file()}

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def names_in(self, folder: str) -> list[str]:
        path = self.root / folder
        return [entry.name for entry in path.iterdir() if entry.is_file()] if path.is_dir() else []

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write_bytes(self, name: str, data: bytes) -> None:
        from ..atomic import write_atomically

        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda handle: handle.write(data), overwrite=True)

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def save_result(self, result, name: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        result.save(path, overwrite=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            yield
            return
        path = self.root / LOCK
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise  # pragma: no cover - a file system without locks
                raise InputError(f"another batch is writing to {self.root}; wait for it or choose another folder.")
            yield  # the lock goes with the process, however it ends

    def clean_temporaries(self, files: set[str]) -> None:
        for name in files:
            if TEMPORARY.match(Path(name).name):
                (self.root / name).unlink(missing_ok=True)


class RemoteDir(OutputDir):
    """An fsspec URL: an object store (s3://, gs://, az://) or any fsspec file system."""

    def __getstate__(self) -> dict:
        return {"location": self.location}  # each worker opens its own connection

    @property
    def fs(self):
        if "_fs" not in vars(self):
            try:
                import fsspec
            except ImportError:
                raise InputError(f"{self.location}: writing to a URL needs fsspec (pip install fsspec).") from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.location)
            except (ImportError, ValueError) as error:
                raise InputError(f"{self.location}: no file system for this URL here ({error}).") from None
        return self._fs

    def _path(self, name: str) -> str:
        self.fs  # noqa: B018 - opens the file system, which sets the root
        return f"{self._root.rstrip('/')}/{name}"

    def prepare(self) -> None:
        self.fs.makedirs(self._path(""), exist_ok=True)

    def listing(self) -> set[str]:
        root = self._path("")
        return {path[len(root):] for path in self.fs.find(root)}

    def exists(self, name: str) -> bool:
        return self.fs.exists(self._path(name))

    def names_in(self, folder: str) -> list[str]:
        try:
            entries = self.fs.ls(self._path(folder), detail=True)
        except FileNotFoundError:
            return []
        return [entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry["type"] == "file"]

    def read_bytes(self, name: str) -> bytes:
        return self.fs.cat_file(self._path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        # An object appears whole when its upload completes; the rename covers the other file systems.
        final = self._path(name)
        temporary = f"{final.rsplit('/', 1)[0]}/.{final.rsplit('/', 1)[1]}.{uuid.uuid4().hex[:8]}.part"
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, final)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(name))

    def save_result(self, result, name: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            encoded = result.save(Path(folder) / Path(name).name)
            self.write_bytes(name, encoded.read_bytes())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An object naming this driver, created only where none is (mode "x": a conditional put
        on object stores that offer one, e.g. s3fs's If-None-Match; an exclusive create on file
        systems); read back, so that a store that ignores the condition still refuses a driver
        that came second. A killed driver leaves it behind: the message says how to clear it."""
        path = self._path(LOCK)
        mine = json.dumps({"driver": f"{socket.gethostname()}:{os.getpid()}", "id": uuid.uuid4().hex,
                           "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}).encode()
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        try:
            if self.fs.exists(path):
                raise FileExistsError(path)
            with self.fs.open(path, "xb") as handle:
                handle.write(mine)
            if self.fs.cat_file(path) != mine:
                raise FileExistsError(path)
        except FileExistsError:
            raise InputError(self._held_message(path)) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                if self.fs.cat_file(path) == mine:
                    self.fs.rm_file(path)

    def _held_message(self, path: str) -> str:
        try:
            holder = json.loads(self.fs.cat_file(path))
            by = f" ({holder['driver']}, since {holder['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            by = ""
        return (f"another batch is writing to {self.location}{by}; wait for it or choose another folder. If that "
                f"batch was killed, delete {self.where(LOCK)} and run again.")
