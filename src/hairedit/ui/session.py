"""Each browser tab's photos and results, held on the server within bounds.

A tab's state lives here, keyed by Gradio's session hash, rather than in a ``gr.State``:
Gradio keeps a closed tab's State for an hour whatever its ``time_to_live`` says, and gives
no way to release it sooner. Here a session is forgotten when its tab closes (the page's
unload event), once it has been idle for ``ttl_s``, or, past ``max_sessions``, least recently
used first; its result files go with it. So the server holds at most ``max_sessions`` times
what one session holds (:meth:`EditSession.nbytes` in memory, ``HISTORY_LIMIT`` results on disk),
and on disk, beyond that, only files younger than ``ttl_s``.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..allocator import give_back_freed_memory
from ..conditions import ALL_FACES
from ..imageio import save_image

if TYPE_CHECKING:  # face.detect imports OpenCV, which `hairedit ui --help` need not load
    from ..face.detect import DetectedFace

SESSION_TTL_S = 3600.0  # an idle tab's photos are forgotten after this long
MAX_SESSIONS = 16  # tabs whose photos are held at once
HISTORY_LIMIT = 12  # results a tab keeps (as files), newest first
# The before/after is shown from JPEGs of this quality: a 12 MP photo encodes in 0.05 s, where the
# WebP Gradio makes of an image it is handed takes 0.75 s, for each side and each edit or preview.
SHOWN_JPEG_QUALITY = 92
FORGOTTEN_KEPT = 1024  # forgotten tabs remembered, to tell them why their photo is gone


@dataclass
class EditSession:
    """What one browser tab has given so far."""

    photo: np.ndarray | None = None  # (H, W, 3) uint8
    faces: list[DetectedFace] = field(default_factory=list)
    face_index: int = 0
    every_face: bool = False  # edit every face, largest first (--face all)
    crop: np.ndarray | None = None  # the aligned crop (1024, 1024, 3) uint8
    labels: np.ndarray | None = None  # the crop's parse (p, p) uint8
    hairstyle_ref: np.ndarray | None = None
    color_ref: np.ndarray | None = None
    history: list[tuple[Path, str]] = field(default_factory=list)  # (file, caption) of each result, newest first
    shown: list[Path] = field(default_factory=list)  # the before/after's JPEGs, newest first
    shown_photo: Path | None = None  # the photo's, made the first time it is shown
    follows_forgotten: bool = False  # this tab had a session before, forgotten while idle

    def clear_photo(self) -> None:
        self.photo, self.faces, self.face_index, self.crop, self.labels = None, [], 0, None, None
        self.shown_photo = None

    @property
    def edited_face(self) -> int | str:
        """What an edit's ``face`` is: the face picked, or "all"."""
        return ALL_FACES if self.every_face else self.face_index

    def nbytes(self) -> int:
        """Bytes of the images held (the bulk of a session's memory)."""
        arrays = (self.photo, self.crop, self.labels, self.hairstyle_ref, self.color_ref)
        return sum(array.nbytes for array in arrays if array is not None)


class SessionStore:
    """Every tab's :class:`EditSession`, and the folder of their result files."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic):
        if ttl_s <= 0 or max_sessions < 1:
            raise ValueError(f"sessions need a positive time-to-live and room for one; got {ttl_s} s, {max_sessions}")
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.output_dir = Path(tempfile.mkdtemp(prefix="hairedit-ui-"))
        atexit.register(shutil.rmtree, self.output_dir, ignore_errors=True)
        # Gradio's cache (uploads, and copies of what the page shows) goes here too: Gradio's own
        # clean-up misses what a streaming handler returns, so this folder is swept as a whole.
        self.gradio_dir = self.output_dir / "gradio"
        self._clock = clock
        self._sessions: OrderedDict[str, tuple[EditSession, float]] = OrderedDict()  # key -> (session, last used)
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = 0
        self._closed = threading.Event()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, key: str) -> EditSession:
        """The session of tab ``key`` (a new one the first time), marked as just used."""
        with self._lock:
            entry = self._sessions.pop(key, None)
            session = entry[0] if entry else EditSession(follows_forgotten=key in self._forgotten)
            self._sessions[key] = (session, self._clock())
            crowded = []
            while len(self._sessions) > self.max_sessions:
                crowded.append(self._drop(next(iter(self._sessions))))
        _delete_files(crowded)
        return session

    def forget(self, key: str) -> None:
        """Tab ``key`` closed: its photos and results go."""
        with self._lock:
            dropped = [self._drop(key)] if key in self._sessions else []
        _delete_files(dropped)

    def expire(self) -> int:
        """Forget every session idle for over ``ttl_s``; delete every file in the folder older than
        that no session holds (Gradio's copies of uploads and results among them). Returns how many
        sessions went."""
        now = self._clock()
        with self._lock:
            idle = [key for key, (_, used) in self._sessions.items() if now - used > self.ttl_s]
            dropped = [self._drop(key) for key in idle]
            held = {path for session, _ in self._sessions.values() for path in _files(session)}
        _delete_files(dropped)
        oldest = time.time() - self.ttl_s
        for path in sorted(self.output_dir.rglob("*"), reverse=True):  # a folder's files before the folder
            with contextlib.suppress(OSError):  # gone meanwhile, or a folder not empty
                if path.stat().st_mtime < oldest and path not in held:
                    path.rmdir() if path.is_dir() else path.unlink()
        return len(dropped)

    def save_result(self, session: EditSession, image: Image.Image, caption: str) -> Path:
        """Write ``image`` as the session's newest result (at most HISTORY_LIMIT kept); returns its file."""
        with self._lock:
            self._counter += 1
            number = self._counter
        path = save_image(image, self._unguessable(f"hairedit-edit-{number}", ".png"), quick=True)
        session.history.insert(0, (path, f"#{number}: {caption}"))
        if len(session.history) > HISTORY_LIMIT:
            _delete_files([[file for file, _ in session.history[HISTORY_LIMIT:]]])
            del session.history[HISTORY_LIMIT:]
        return path

    def before_after(self, session: EditSession, photo: np.ndarray, after: Image.Image) -> tuple[str, str]:
        """The files the before/after shows: the photo's (written once per photo) and ``after``'s.
        The session keeps the last HISTORY_LIMIT of them; the page has its own copies by then."""
        current = photo is session.photo  # else the tab has another photo by now
        before = session.shown_photo if current else None
        if before is None:
            before = self._shown(session, Image.fromarray(photo))
            if current:
                session.shown_photo = before
        return str(before), str(self._shown(session, after))

    def _shown(self, session: EditSession, image: Image.Image) -> Path:
        path = self._unguessable("hairedit-shown", ".jpg")
        image.save(path, quality=SHOWN_JPEG_QUALITY, subsampling=0)  # read by Gradio alone, just after
        with self._lock:  # a live preview and Refine may show at once
            session.shown.insert(0, path)
            kept = {session.shown_photo, *session.shown[:HISTORY_LIMIT]}  # the photo's as long as it is shown
            dropped = [old for old in session.shown if old not in kept]
            session.shown = [file for file in session.shown if file in kept]
        for old in dropped:
            old.unlink(missing_ok=True)
        return path

    def _unguessable(self, stem: str, suffix: str) -> Path:
        """A file name no other user can guess: every logged-in user may ask the server for files here."""
        return self.output_dir / f"{stem}-{secrets.token_urlsafe(16)}{suffix}"

    def start_sweeping(self) -> None:
        """Expire sessions and files every so often (a quarter of ``ttl_s``, 1 to 60 s), until :meth:`close`."""
        interval = min(60.0, max(1.0, self.ttl_s / 4))

        def sweep() -> None:
            while not self._closed.wait(interval):
                self.expire()

        threading.Thread(target=sweep, name="hairedit-sessions", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._sessions.clear()
        shutil.rmtree(self.output_dir, ignore_errors=True)

    def _drop(self, key: str) -> list[Path]:
        """Remove session ``key`` (the lock held); returns its files, to delete outside the lock."""
        session, _ = self._sessions.pop(key)
        self._forgotten[key] = None
        while len(self._forgotten) > FORGOTTEN_KEPT:
            self._forgotten.popitem(last=False)
        return _files(session)


def _files(session: EditSession) -> list[Path]:
    """The files a session holds: its results and what its before/after showed."""
    return [Path(path) for path, _ in session.history] + session.shown


def _delete_files(sessions_files: list[list[Path]]) -> None:
    """Delete the files of forgotten sessions, and hand their memory back to the system."""
    for files in sessions_files:
        for path in files:
            path.unlink(missing_ok=True)
    if sessions_files:
        give_back_freed_memory()  # a forgotten photo's memory goes back to the system now
