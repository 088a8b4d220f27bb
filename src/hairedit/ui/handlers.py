"""The page's event handlers: :class:`HairEditApp`, around one HairEditor shared by every tab.

Each handler finds its tab's :class:`~hairedit.ui.session.EditSession` by Gradio's session
hash. A problem the user can fix comes back as a message for the message area beside Refine,
never as a toast over the controls; anything else is a bug, reported in the terminal.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Iterator

import gradio as gr
import numpy as np

from ..commands import CONDITION_OPTIONS
from ..errors import EditInterrupted, HaireditError, InputError
from ..face.detect import choose_face
from ..imageio import load_photo
from ..weight_needs import files_needed
from ..weights.download import missing_files
from ..progress import Progress
from .canvas import colour_labels, crop_canvas, face_caption, face_thumbnail
from .inputs import colour_conditions, describe, hairstyle_conditions
from .render import BUG, StageBoard, download_progress, message, missing_summary, problem
from .session import EditSession, SessionStore
from .weights import PROGRESS_REFRESH_S, WeightsDownload

# The page hears of an edit's progress at most this often. Each message costs the page more
# than its text: Gradio 6.31's page then uploads every canvas drawn on again (docs/ui.md).
EDIT_PROGRESS_EVERY_S = 0.5


PREVIEW_PRESET = "instant"  # the live preview: forward passes only, seconds


def read_upload(payload: dict | None, what: str) -> np.ndarray | None:
    """An image component's raw (not preprocessed) value -> RGB uint8 (H, W, 3); None when empty.

    Messages name the file as the user knows it, not as Gradio stored it.
    """
    path = payload.get("path") if payload else None
    if path is None:
        return None
    shown = payload.get("orig_name") or what
    try:
        return load_photo(path, what)
    except InputError as error:
        raise InputError(str(error).replace(path, shown)) from None


class HairEditApp:
    """The page's event handlers around one HairEditor, shared by every tab.

    ``preset`` and ``seed`` are what the page's settings start at (default: the editor's);
    ``weights`` offers the download of missing pretrained files (None: nothing to download);
    ``live_previews``: run an instant edit after each change of the inputs (the page offers to
    turn it off; False: it is not offered at all).
    """

    def __init__(self, editor, smoke: bool = False, preset: str | None = None, seed: int | None = None,
                 sessions: SessionStore | None = None, weights: WeightsDownload | None = None,
                 live_previews: bool = True):
        self.editor = editor
        self.live_previews = live_previews  # an instant edit after each change of the inputs
        self.smoke = smoke
        self.preset = preset or editor.config.preset
        self.seed = editor.config.seed if seed is None else seed
        self.sessions = sessions if sessions is not None else SessionStore()
        self.weights = weights
        self._cancels: dict[str, threading.Event] = {}

    def close(self) -> None:
        self.sessions.close()

    # -- pretrained files ----------------------------------------------------------------------

    def weights_panel(self):
        """On page load: the offer to download, while files are missing. Outputs: panel, summary, progress."""
        job = self.weights
        if job is None:
            return gr.update(visible=False), "", ""
        missing = job.missing()
        if job.running:
            return gr.update(visible=True), missing_summary(missing), download_progress(job.progress, True, False)
        return gr.update(visible=bool(missing)), missing_summary(missing) if missing else "", ""

    def download_weights(self) -> Iterator[tuple]:
        """Start the download (or follow the one running); stream its progress. Outputs: progress, button."""
        job = self.weights
        job.start()
        busy = gr.update(interactive=False)
        while job.running:
            yield download_progress(job.progress, True, False), busy
            job.wait(PROGRESS_REFRESH_S)
        yield download_progress(job.progress, False, job.failed), gr.update(visible=job.failed, interactive=job.failed)

    # -- photo and face ----------------------------------------------------------------------

    def photo_changed(self, payload: dict | None, request: gr.Request):
        """A new photo (upload, webcam, paste) or a cleared one: find its faces, align the largest.

        Outputs: photo, face thumbnails, crop, sketch canvas, mask painter, messages. A photo
        that cannot be used is cleared, with a message saying why.
        """
        session = self.sessions.get(request.session_hash)
        session.clear_photo()
        try:
            photo = read_upload(payload, "the photo")
            if photo is None:  # cleared, by the user or by a message below: the message stays
                return gr.skip(), [], None, None, None, gr.skip()
            faces = self.editor.detect_faces(photo)
            choose_face(faces, 0)  # says why when there is no usable face
            session.photo, session.faces = photo, faces
            shown = self._use_face(session, 0)
        except HaireditError as error:
            session.clear_photo()
            return None, [], None, None, None, problem("Cannot use this photo:", error)
        thumbnails = [(face_thumbnail(photo, face), face_caption(i)) for i, face in enumerate(faces)]
        return gr.skip(), gr.update(value=thumbnails, selected_index=0), *shown, ""

    def face_selected(self, selection: gr.SelectData, request: gr.Request):
        """Outputs: crop, sketch canvas, mask painter, messages; unchanged if the face cannot be used."""
        session = self.sessions.get(request.session_hash)
        try:
            return *self._use_face(session, int(selection.index)), ""
        except HaireditError as error:
            return gr.skip(), gr.skip(), gr.skip(), problem("Cannot use this face:", error)

    def every_face_changed(self, every: bool, request: gr.Request) -> None:
        """The "every face" box: edits then go over every face of the photo, largest first (--face all)."""
        self.sessions.get(request.session_hash).every_face = bool(every)

    def _use_face(self, session: EditSession, index: int):
        """Align face ``index``; prefill the sketch canvas with its crop and the mask painter with its parse."""
        if session.photo is None:
            raise InputError(self._no_photo(session))
        aligned = self.editor.align(session.photo, index)  # the faces found on upload: aligning is all
        labels = self.editor.parse(aligned.crop)
        session.face_index, session.crop, session.labels = index, aligned.crop, labels
        return aligned.crop, crop_canvas(aligned.crop), colour_labels(labels)

    def reference_changed(self, kind: str):
        """A handler keeping the hairstyle or colour reference photo once it shows a face.

        Outputs: the reference image (cleared when unusable) and messages.
        """
        what = {"hairstyle_ref": "the hairstyle reference", "color_ref": "the colour reference"}[kind]

        def changed(payload: dict | None, request: gr.Request):
            session = self.sessions.get(request.session_hash)
            setattr(session, kind, None)
            try:
                photo = read_upload(payload, what)
                if photo is not None:
                    choose_face(self.editor.detect_faces(photo), 0, what)
            except HaireditError as error:
                return None, problem(f"Cannot use {what}:", error)
            setattr(session, kind, photo)
            return gr.skip(), ""

        return changed

    def _no_photo(self, session: EditSession) -> str:
        if session.follows_forgotten:
            minutes = self.sessions.ttl_s / 60
            return f"this page was idle for over {minutes:.0f} minute(s), so its photos were let go: upload them again."
        return "upload a photo with a face first."

    # -- the edit ----------------------------------------------------------------------------

    def conditions(self, session: EditSession, hairstyle_from: str, hairstyle_text: str | None, sketch: dict | None,
                   mask: dict | None, colour_from: str, colour_text: str | None, colour_pick: str | None) -> dict:
        """The edit's keyword arguments from the page's inputs; InputError says what is missing."""
        if session.photo is None or session.crop is None:
            raise InputError(self._no_photo(session))
        chosen = {
            **hairstyle_conditions(session, hairstyle_from, hairstyle_text, sketch, mask),
            **colour_conditions(session, colour_from, colour_text, colour_pick),
        }
        if not chosen:
            raise InputError("nothing to change: choose a hairstyle, draw a sketch or choose a colour.")
        self.editor.check_inputs(**{name: chosen.get(name) for name in CONDITION_OPTIONS})
        return chosen

    def live_preview(self, hairstyle_from: str, hairstyle_text: str | None, sketch: dict | None, mask: dict | None,
                     colour_from: str, colour_text: str | None, colour_pick: str | None, seed: float | None,
                     enabled: bool, request: gr.Request):
        """An instant edit of what the page asks for now, shown as the before/after; nothing while
        the inputs are incomplete. Outputs: before/after, messages."""
        skip = gr.skip()
        session = self.sessions.get(request.session_hash)
        if not enabled or self.instant_missing():
            return skip, skip
        try:
            chosen = self.conditions(
                session, hairstyle_from, hairstyle_text, sketch, mask, colour_from, colour_text, colour_pick
            )
        except HaireditError:
            return skip, skip  # not a whole request yet: Refine says what is missing when pressed
        photo = session.photo
        try:
            result = self.editor.edit(photo, face=session.edited_face, preset=PREVIEW_PRESET, seed=self._seed(seed),
                                      progress=False, previews=False, preview=True, **chosen)
        except HaireditError as error:
            return skip, problem("The preview failed:", error)
        seconds = sum(result.timings.values())
        reused = ", this photo's work reused" if result.photo_reused else ""
        label = f"Instant preview ({seconds:.1f} s{reused}): Refine runs the chosen preset"
        return gr.update(value=self.sessions.before_after(session, photo, result.image), label=label), ""

    def prepare_photo(self, seed: float | None, enabled: bool, request: gr.Request) -> None:
        """The chosen face's per-photo work for the live preview (the inversion, parse, bald
        proxy), done as the photo or face is chosen: the first preview is then a follow-up too.
        Quiet on failure: the preview or Refine says what is wrong."""
        session = self.sessions.get(request.session_hash)
        if not enabled or self.instant_missing() or session.photo is None or session.crop is None:
            return
        try:
            self.editor.prepare(session.photo, face=session.face_index, preset=PREVIEW_PRESET, seed=self._seed(seed))
        except HaireditError:
            pass

    def _seed(self, seed: float | None) -> int:
        """The page's seed box; the page's starting seed when it was emptied."""
        return self.seed if seed is None else int(seed)

    def instant_missing(self) -> list:
        """The instant preset's pretrained files that are missing (none for random networks)."""
        return [] if self.weights is None else missing_files(
            files_needed(PREVIEW_PRESET), self.weights.folder
        )

    def run(self, hairstyle_from: str, hairstyle_text: str | None, sketch: dict | None, mask: dict | None,
            colour_from: str, colour_text: str | None, colour_pick: str | None, preset: str, seed: float | None,
            request: gr.Request) -> Iterator[tuple]:
        """Run the edit in a worker thread, streaming its progress; yields the page's outputs:
        progress, live preview, before/after, download, proxies, history, messages."""
        skip = gr.skip()
        session = self.sessions.get(request.session_hash)
        try:
            chosen = self.conditions(
                session, hairstyle_from, hairstyle_text, sketch, mask, colour_from, colour_text, colour_pick
            )
        except HaireditError as error:
            yield "<p>Ready when you are.</p>", *(skip,) * 5, problem("Cannot run the edit:", error)
            return
        photo, face = session.photo, session.edited_face  # as when Refine was pressed, whatever the tab uploads meanwhile
        cancel = threading.Event()
        self._cancels[request.session_hash] = cancel
        updates: queue.Queue[Progress] = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["result"] = self.editor.edit(
                    photo, face=face, preset=preset, seed=self._seed(seed),
                    callback=updates.put, cancel=cancel, **chosen,
                )
            except BaseException as error:  # handed to the page below, whatever it is
                outcome["error"] = error

        board = StageBoard()
        worker = threading.Thread(target=work, name="hairedit-edit", daemon=True)
        worker.start()
        yield board.render("Aligning the face…"), None, *(skip,) * 4, ""
        try:
            shown_s = time.monotonic()
            while worker.is_alive() or not updates.empty():
                pending = self._pending(updates, shown_s + EDIT_PROGRESS_EVERY_S)
                if not pending:
                    continue
                previews = [p.preview for p in pending if p.preview is not None]
                for update in pending:
                    board.update(update)
                yield board.render(f"Running: {pending[-1].stage}"), previews[-1] if previews else skip, *(skip,) * 5
                shown_s = time.monotonic()
        finally:
            if worker.is_alive():  # the page went away mid-edit: stop the work too
                cancel.set()
                worker.join()
            self._cancels.pop(request.session_hash, None)
        yield self._finish(session, photo, chosen, preset, board, outcome)

    @staticmethod
    def _pending(updates: queue.Queue, not_before_s: float) -> list[Progress]:
        """Every update waiting, after waiting a moment for the first and then until
        ``not_before_s`` (``time.monotonic()``); [] when none came."""
        try:
            pending = [updates.get(timeout=PROGRESS_REFRESH_S)]
        except queue.Empty:
            return []
        time.sleep(max(0.0, not_before_s - time.monotonic()))
        while not updates.empty():
            pending.append(updates.get_nowait())
        return pending

    def _finish(self, session: EditSession, photo: np.ndarray, chosen: dict, preset: str, board: StageBoard,
                outcome: dict) -> tuple:
        skip = gr.skip()
        error = outcome.get("error")
        if isinstance(error, EditInterrupted):
            return board.render("Stopped. Nothing was changed."), *(skip,) * 6
        if isinstance(error, HaireditError):
            return board.render("Failed."), *(skip,) * 5, problem("The edit failed:", error)
        if error is not None:  # a bug: the traceback goes to the terminal, not to the page
            traceback.print_exception(error)
            return board.render("Failed."), *(skip,) * 5, message("The edit failed.", BUG, "error")
        result = outcome["result"]
        path = self.sessions.save_result(session, result.image, describe(chosen))
        reused = not any(stage.startswith("inversion") for stage in board.stages)
        timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in result.timings.items())
        headline = f"Done in {sum(result.timings.values()):.1f} s ({timings})"
        if reused:
            headline += "; inversion reused from an earlier edit of this photo"
        notes = "".join(message("About this result:", warning) for warning in result.warnings)
        proxies = [(image, name.replace("_", " ")) for name, image in result.proxies.items()]
        compare = gr.update(value=self.sessions.before_after(session, photo, result.image),
                            label=f"Before / after ({preset} preset)")
        return (
            board.render(headline), skip, compare,
            gr.update(value=str(path), visible=True), proxies, [(str(p), c) for p, c in session.history], notes,
        )

    def stop(self, request: gr.Request) -> None:
        cancel = self._cancels.get(request.session_hash)
        if cancel is not None:
            cancel.set()

    def forget(self, request: gr.Request) -> None:
        """The tab closed: let its photos and results go."""
        self.sessions.forget(request.session_hash)
