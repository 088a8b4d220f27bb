"""``hairedit ui``: the browser interface, a Gradio app around :class:`~hairedit.pipeline.HairEditor`.

The page follows an edit from left to right: a photo, the face to edit, a hairstyle (words,
a reference photo, sketch strokes, a painted hair mask) and a colour (words, a reference
photo, a colour picker), then Run. Edits go through Gradio's queue, one at a time unless
``--concurrency`` says otherwise; Stop sets the running edit's ``cancel`` event, so the
edit ends at its next optimisation step. Every :class:`~hairedit.errors.HaireditError`
reaches the page as a message.
"""

from __future__ import annotations

import argparse
import atexit
import html
import ipaddress
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage.morphology import skeletonize

from .conditions import parse_rgb
from .errors import CheckpointError, DownloadError, EditInterrupted, HaireditError, InputError, MissingWeightsError
from .face.align import align_face
from .face.detect import DetectedFace, choose_face
from .imageio import load_photo
from .networks.bisenet import BACKGROUND, EAR, FACE, HAIR
from .pipeline import CROP_SIZE_PX
from .progress import Progress

# Before gradio is imported: no telemetry and no version check, so the app never calls out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
import gradio as gr  # noqa: E402

CANVAS_PX = 512  # the official sketch canvas; the mask painter uses the same square
STROKE_WIDTH_PX = 2  # the official sketches' stroke width on that canvas
FACE_THUMBNAIL_PX = 160
PROGRESS_REFRESH_S = 0.25  # at most this often a progress update is sent to the page
MESSAGE_SECONDS = 30  # how long a problem stays on screen

# The mask painter's colours, one per label the mask loss counts: the official painter's (RGB).
MASK_COLOURS = {
    BACKGROUND: (0, 0, 0),
    FACE: (102, 204, 255),
    EAR: (51, 255, 51),
    HAIR: (204, 102, 255),
}
MASK_BRUSH_RADIUS_PX = 10  # the official painter's default, on the same 512 px canvas
MASK_NAMES = {BACKGROUND: "background", FACE: "face", EAR: "ear", HAIR: "hair"}
OTHER_COLOUR = (150, 150, 150)  # eyes, nose, mouth, neck, clothes...: the mask loss ignores them
SKETCH_COLOUR = "#ffffff"
SKETCH_BRUSH_RADIUS_PX = 3  # easy to see; strokes are thinned to STROKE_WIDTH_PX before use
SHOW_BUTTONS = ["download", "fullscreen"]  # no "share": nothing leaves this computer

HAIRSTYLE_SOURCES = ("keep", "words", "reference photo")
COLOUR_SOURCES = ("keep", "words", "reference photo", "colour picker")

CSS = """
.stage-list { list-style: none; padding: 0; margin: 0; }
.stage-list li { display: grid; grid-template-columns: 11em 1fr 5em; gap: .5em; align-items: center; }
.stage-list progress { width: 100%; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #888; vertical-align: middle; }
"""


def hairstyle_suggestions() -> list[str]:
    """HairCLIP's 44 hairstyle descriptions (its ``mapper/hairstyle_list.txt``)."""
    text = resources.files("hairedit").joinpath("data/hairstyles.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


# -- what the canvases hold ---------------------------------------------------------------


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """Label map (p, p) -> the mask painter's background (CANVAS_PX, CANVAS_PX, 3) uint8."""
    labels = cv2.resize(labels.astype(np.uint8), (CANVAS_PX, CANVAS_PX), interpolation=cv2.INTER_NEAREST)
    image = np.empty((*labels.shape, 3), np.uint8)
    image[:] = OTHER_COLOUR
    for label, colour in MASK_COLOURS.items():
        image[labels == label] = colour
    return image


def _canvas_layers(editor_value: dict | None) -> list[np.ndarray]:
    """The painted layers of a gr.ImageEditor value as (CANVAS_PX, CANVAS_PX, 4) uint8 arrays."""
    if not editor_value:
        return []
    layers = []
    for layer in editor_value.get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[2] != 4:
            continue  # only RGBA layers carry strokes (the alpha says where)
        if layer.shape[:2] != (CANVAS_PX, CANVAS_PX):
            layer = cv2.resize(layer, (CANVAS_PX, CANVAS_PX), interpolation=cv2.INTER_NEAREST)
        layers.append(layer)
    return layers


def painted_mask(editor_value: dict | None, labels: np.ndarray) -> np.ndarray | None:
    """The parse ``labels`` (p, p) with the user's paint on top -> (CANVAS_PX, CANVAS_PX) uint8.

    A painted pixel takes the label whose painter colour is nearest (brush edges are blended);
    unpainted pixels keep the parser's label. None when nothing was painted.
    """
    layers = [layer for layer in _canvas_layers(editor_value) if (layer[..., 3] >= 128).any()]
    if not layers:
        return None
    result = cv2.resize(labels.astype(np.uint8), (CANVAS_PX, CANVAS_PX), interpolation=cv2.INTER_NEAREST)
    palette = np.array(list(MASK_COLOURS.values()), np.int32)
    palette_labels = np.array(list(MASK_COLOURS), np.uint8)
    for layer in layers:
        painted = layer[..., 3] >= 128
        colours = layer[..., :3][painted].astype(np.int32)
        nearest = ((colours[:, None, :] - palette[None]) ** 2).sum(-1).argmin(1)
        result[painted] = palette_labels[nearest]
    return result


def sketch_strokes(editor_value: dict | None) -> np.ndarray | None:
    """Strokes drawn on the crop -> (CANVAS_PX, CANVAS_PX) uint8, 255 on 0; None when empty.

    Strokes are thinned to STROKE_WIDTH_PX lines whatever the brush size, because the sketch
    encoder learnt from the official 2 px sketches.
    """
    layers = _canvas_layers(editor_value)
    drawn = np.zeros((CANVAS_PX, CANVAS_PX), bool)
    for layer in layers:
        drawn |= layer[..., 3] >= 128
    if not drawn.any():
        return None
    lines = skeletonize(drawn).astype(np.uint8)
    lines = cv2.dilate(lines, np.ones((STROKE_WIDTH_PX, STROKE_WIDTH_PX), np.uint8))
    return lines * 255


def picker_rgb(value: str) -> tuple[int, int, int]:
    """A gr.ColorPicker value ("#rrggbb", "rgb(r, g, b)" or "rgba(r, g, b, a)") -> (r, g, b)."""
    numbers = re.fullmatch(r"\s*rgba?\(([^)]*)\)\s*", value or "")
    if numbers:
        parts = [float(p) for p in re.split(r"[,\s/]+", numbers.group(1).strip()) if p][:3]
        return parse_rgb(tuple(int(round(p)) for p in parts))
    return parse_rgb(value)


def face_thumbnail(photo: np.ndarray, face: DetectedFace) -> np.ndarray:
    """The face's box with a margin, FACE_THUMBNAIL_PX square, for the face picker."""
    left, top, right, bottom = face.box
    margin = (right - left) // 3
    height, width = photo.shape[:2]
    crop = photo[max(0, top - margin) : min(height, bottom + margin), max(0, left - margin) : min(width, right + margin)]
    return np.asarray(Image.fromarray(crop).resize((FACE_THUMBNAIL_PX, FACE_THUMBNAIL_PX), Image.LANCZOS))


# -- one browser session --------------------------------------------------------------------


@dataclass
class EditSession:
    """What one browser tab has given so far; lives in a gr.State."""

    photo: np.ndarray | None = None  # (H, W, 3) uint8
    faces: list[DetectedFace] = field(default_factory=list)
    face_index: int = 0
    crop: np.ndarray | None = None  # the aligned crop (1024, 1024, 3) uint8
    labels: np.ndarray | None = None  # the crop's parse (p, p) uint8
    hairstyle_ref: np.ndarray | None = None
    color_ref: np.ndarray | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # (file, caption) of each result


@dataclass
class StageBoard:
    """The stages an edit has reported so far, rendered as one progress bar each."""

    stages: dict[str, tuple[int, int]] = field(default_factory=dict)

    def update(self, progress: Progress) -> None:
        self.stages[progress.stage] = (progress.step, progress.total)

    def render(self, headline: str) -> str:
        rows = [
            f"<li><span>{html.escape(stage)}</span><progress value='{step}' max='{total}'></progress>"
            f"<span>{step}/{total}</span></li>"
            for stage, (step, total) in self.stages.items()
        ]
        return f"<p><b>{html.escape(headline)}</b></p><ul class='stage-list'>{''.join(rows)}</ul>"


def _warn(title: str, error: Exception) -> None:
    """Show a problem the user can fix as a message in the page (Gradio renders it as HTML)."""
    if isinstance(error, (MissingWeightsError, DownloadError, CheckpointError)):
        title = "A pretrained file is missing or damaged"  # not the photo's fault: say so
    gr.Warning(html.escape(str(error)), duration=MESSAGE_SECONDS, title=title)


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
    """The page's event handlers around one HairEditor, shared by every session."""

    def __init__(self, editor, smoke: bool = False):
        self.editor = editor
        self.smoke = smoke
        self.output_dir = Path(tempfile.mkdtemp(prefix="hairedit-ui-"))
        atexit.register(shutil.rmtree, self.output_dir, ignore_errors=True)
        self._cancels: dict[str, threading.Event] = {}
        self._counter = 0
        self._lock = threading.Lock()

    # -- photo and face ----------------------------------------------------------------------

    def photo_changed(self, payload: dict | None, session: EditSession):
        """A new photo (upload, webcam, paste) or a cleared one: find its faces, align the largest.

        Outputs: photo, face thumbnails, crop, sketch canvas, mask painter, session. A photo
        that cannot be used is cleared, with a message saying why.
        """
        session.photo, session.faces, session.face_index, session.crop, session.labels = None, [], 0, None, None
        try:
            photo = read_upload(payload, "the photo")
            if photo is None:
                return gr.skip(), [], None, None, None, session
            faces = self.editor.detect_faces(photo)
            choose_face(faces, 0)  # says why when there is no usable face
            session.photo, session.faces = photo, faces
            shown = self._use_face(session, 0)
        except HaireditError as error:
            _warn("Cannot use this photo", error)
            session.photo, session.faces = None, []
            return None, [], None, None, None, session
        thumbnails = [
            (face_thumbnail(photo, face), f"face {i + 1}" + (" (largest)" if i == 0 else ""))
            for i, face in enumerate(faces)
        ]
        return gr.skip(), thumbnails, *shown

    def face_selected(self, session: EditSession, selection: gr.SelectData):
        """Outputs: crop, sketch canvas, mask painter, session; unchanged if the face cannot be used."""
        try:
            return self._use_face(session, int(selection.index))
        except HaireditError as error:
            _warn("Cannot use this face", error)
            return (gr.skip(),) * 4

    def _use_face(self, session: EditSession, index: int):
        """Align face ``index``; prefill the sketch canvas with its crop and the mask painter with its parse."""
        aligned = align_face(session.photo, choose_face(session.faces, index), CROP_SIZE_PX)
        labels = self.editor.parse(aligned.crop)
        session.face_index, session.crop, session.labels = index, aligned.crop, labels
        canvas = np.asarray(Image.fromarray(aligned.crop).resize((CANVAS_PX, CANVAS_PX), Image.LANCZOS))
        return aligned.crop, canvas, colour_labels(labels), session

    def reference_changed(self, kind: str):
        """A handler keeping the hairstyle or colour reference photo once it shows a face.

        Outputs: the reference image (cleared when unusable) and the session.
        """
        what = {"hairstyle_ref": "the hairstyle reference", "color_ref": "the colour reference"}[kind]

        def changed(payload: dict | None, session: EditSession):
            setattr(session, kind, None)
            try:
                photo = read_upload(payload, what)
                if photo is not None:
                    choose_face(self.editor.detect_faces(photo), 0, what)
            except HaireditError as error:
                _warn(f"Cannot use {what}", error)
                return None, session
            setattr(session, kind, photo)
            return gr.skip(), session

        return changed

    # -- the edit ----------------------------------------------------------------------------

    def conditions(
        self,
        session: EditSession,
        hairstyle_from: str,
        hairstyle_text: str | None,
        sketch: dict | None,
        mask: dict | None,
        colour_from: str,
        colour_text: str | None,
        colour_pick: str | None,
    ) -> dict:
        """The edit's keyword arguments from the page's inputs; InputError says what is missing."""
        if session.photo is None or session.crop is None:
            raise InputError("upload a photo with a face first.")
        chosen = {
            **_hairstyle_conditions(session, hairstyle_from, hairstyle_text, sketch, mask),
            **_colour_conditions(session, colour_from, colour_text, colour_pick),
        }
        if not chosen:
            raise InputError("nothing to change: choose a hairstyle, draw a sketch or choose a colour.")
        names = ("hairstyle", "hairstyle_ref", "sketch", "mask", "color", "color_ref", "rgb")
        self.editor.check_inputs(**{name: chosen.get(name) for name in names})
        return chosen

    def run(
        self,
        session: EditSession,
        hairstyle_from: str,
        hairstyle_text: str | None,
        sketch: dict | None,
        mask: dict | None,
        colour_from: str,
        colour_text: str | None,
        colour_pick: str | None,
        preset: str,
        seed: float | None,
        request: gr.Request,
    ) -> Iterator[tuple]:
        """Run the edit in a worker thread, streaming its progress; yields the page's outputs:
        progress, live preview, before/after, download, proxies, history, session."""
        try:
            chosen = self.conditions(
                session, hairstyle_from, hairstyle_text, sketch, mask, colour_from, colour_text, colour_pick
            )
        except HaireditError as error:
            _warn("Cannot run the edit", error)
            yield f"<p>{html.escape(str(error))}</p>", *(gr.skip(),) * 6
            return
        cancel = threading.Event()
        self._cancels[request.session_hash] = cancel
        updates: queue.Queue[Progress] = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["result"] = self.editor.edit(
                    session.photo, face=session.face_index, preset=preset, seed=int(seed or 0),
                    callback=updates.put, cancel=cancel, **chosen,
                )
            except BaseException as error:  # handed to the page below, whatever it is
                outcome["error"] = error

        board = StageBoard()
        skip = gr.skip()
        worker = threading.Thread(target=work, name="hairedit-edit", daemon=True)
        worker.start()
        yield board.render("Aligning the face…"), None, skip, skip, skip, skip, skip
        try:
            while worker.is_alive() or not updates.empty():
                pending = self._pending(updates)
                if not pending:
                    continue
                previews = [p.preview for p in pending if p.preview is not None]
                for update in pending:
                    board.update(update)
                headline = f"Running: {pending[-1].stage}"
                yield board.render(headline), previews[-1] if previews else skip, *(skip,) * 5
        finally:
            if worker.is_alive():  # the page went away mid-edit: stop the work too
                cancel.set()
                worker.join()
            self._cancels.pop(request.session_hash, None)
        yield from self._finish(session, chosen, board, outcome)

    @staticmethod
    def _pending(updates: queue.Queue) -> list[Progress]:
        """Every update waiting, after waiting a moment for the first; [] when none came."""
        try:
            pending = [updates.get(timeout=PROGRESS_REFRESH_S)]
        except queue.Empty:
            return []
        while not updates.empty():
            pending.append(updates.get_nowait())
        return pending

    def _finish(self, session: EditSession, chosen: dict, board: StageBoard, outcome: dict) -> Iterator[tuple]:
        skip = gr.skip()
        error = outcome.get("error")
        if isinstance(error, EditInterrupted):
            yield board.render("Stopped. Nothing was changed."), *(skip,) * 6
            return
        if isinstance(error, HaireditError):
            _warn("The edit failed", error)
            yield board.render(f"Failed: {error}"), *(skip,) * 6
            return
        if error is not None:  # a bug: say so, with the traceback in the terminal
            traceback.print_exception(error)
            yield board.render(f"Failed: {type(error).__name__}: {error}"), *(skip,) * 6
            raise gr.Error(
                html.escape(f"unexpected error ({type(error).__name__}: {error}); the terminal has the details."),
                duration=None, print_exception=False,
            )
        result = outcome["result"]
        path, caption = self._save(result.image, chosen)
        session.history = [(path, caption)] + session.history
        reused = not any(stage.startswith("inversion") for stage in board.stages)
        timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in result.timings.items())
        headline = f"Done in {sum(result.timings.values()):.1f} s ({timings})"
        if reused:
            headline += "; inversion reused from an earlier edit of this photo"
        for warning in result.warnings:
            gr.Warning(html.escape(warning), duration=MESSAGE_SECONDS, title="About this result")
        proxies = [(image, name.replace("_", " ")) for name, image in vars(result.proxies).items() if image is not None]
        yield (
            board.render(headline), skip, (Image.fromarray(session.photo), result.image),
            gr.update(value=str(path), visible=True), proxies, list(session.history), session,
        )

    def _save(self, image: Image.Image, chosen: dict) -> tuple[Path, str]:
        with self._lock:
            self._counter += 1
            number = self._counter
        path = self.output_dir / f"hairedit-edit-{number}.png"
        image.save(path)
        return path, f"#{number}: {describe(chosen)}"

    def stop(self, request: gr.Request) -> None:
        cancel = self._cancels.get(request.session_hash)
        if cancel is not None:
            cancel.set()


def _hairstyle_conditions(session: EditSession, source: str, text: str | None, sketch: dict | None,
                          mask: dict | None) -> dict:
    chosen = {}
    if source == "words":
        if not (text or "").strip():
            raise InputError("type a hairstyle (or pick one of the suggestions), or set Hairstyle to 'keep'.")
        chosen["hairstyle"] = text.strip()
    elif source == "reference photo":
        if session.hairstyle_ref is None:
            raise InputError("upload a hairstyle reference photo, or set Hairstyle to 'keep'.")
        chosen["hairstyle_ref"] = session.hairstyle_ref
    strokes = sketch_strokes(sketch)
    if strokes is not None:
        chosen["sketch"] = strokes
    painted = painted_mask(mask, session.labels)
    if painted is not None:
        if source == "keep":
            raise InputError(
                "the painted hair mask steers a hairstyle from words or a reference photo: choose one under "
                "Hairstyle, or clear the mask."
            )
        chosen["mask"] = painted
    return chosen


def _colour_conditions(session: EditSession, source: str, text: str | None, picked: str | None) -> dict:
    if source == "words":
        if not (text or "").strip():
            raise InputError("type a hair colour, e.g. 'platinum blonde hair', or set Colour to 'keep'.")
        return {"color": text.strip()}
    if source == "reference photo":
        if session.color_ref is None:
            raise InputError("upload a colour reference photo, or set Colour to 'keep'.")
        return {"color_ref": session.color_ref}
    if source == "colour picker":
        return {"rgb": picker_rgb(picked)}
    return {}


def describe(chosen: dict) -> str:
    """A short caption of an edit's conditions, for the history gallery."""
    parts = []
    if "hairstyle" in chosen:
        parts.append(chosen["hairstyle"])
    if "hairstyle_ref" in chosen:
        parts.append("reference hairstyle")
    if "sketch" in chosen:
        parts.append("sketch")
    if "mask" in chosen:
        parts.append("painted mask")
    if "color" in chosen:
        parts.append(chosen["color"])
    if "color_ref" in chosen:
        parts.append("reference colour")
    if "rgb" in chosen:
        parts.append("colour #{:02x}{:02x}{:02x}".format(*chosen["rgb"]))
    return ", ".join(parts)


# -- the page -------------------------------------------------------------------------------


def _legend() -> str:
    items = [(MASK_NAMES[label], colour) for label, colour in MASK_COLOURS.items()] + [("other (left free)", OTHER_COLOUR)]
    return " &nbsp; ".join(
        f"<span class='swatch' style='background: rgb{colour}'></span> {name}" for name, colour in items
    )


def _rgb_css(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def build_app(app: HairEditApp, concurrency: int = 1) -> gr.Blocks:
    """The page. ``concurrency`` edits may run at once (each holds the networks' activations)."""
    # Uploads and results leave Gradio's cache after a day: photos are personal.
    with gr.Blocks(title="hairedit", analytics_enabled=False, delete_cache=(3600, 86400)) as page:
        session = gr.State(EditSession())
        gr.Markdown(
            "# hairedit: change only the hair\n"
            "1. Upload a photo and pick the face. 2. Choose a hairstyle and/or a colour. 3. Press **Run**. "
            "Everything but the hair stays as it was; see the help in each section."
        )
        if app.smoke:
            gr.Markdown(
                "**Smoke mode:** small random networks and few steps. The interface works end to end, "
                "but the pictures it makes are meaningless.",
                elem_id="smoke-banner",
            )
        with gr.Row(equal_height=False):
            with gr.Column():
                gr.Markdown("### 1. Photo")
                photo = gr.Image(
                    label="Photo", sources=["upload", "webcam", "clipboard"], type="filepath", height=320,
                    buttons=["fullscreen"], elem_id="photo",
                )
                faces = gr.Gallery(
                    label="Faces found: click the one to edit", columns=4, height=170, allow_preview=False,
                    object_fit="contain", fit_columns=False, interactive=False, buttons=[], elem_id="faces",
                )
                crop = gr.Image(
                    label="Aligned crop (what the networks see)", interactive=False, height=256, buttons=SHOW_BUTTONS,
                    elem_id="crop",
                )
            with gr.Column():
                gr.Markdown("### 2. Hairstyle")
                hairstyle_from = gr.Radio(list(HAIRSTYLE_SOURCES), value="keep", label="Hairstyle from", elem_id="hairstyle-from")
                hairstyle_text = gr.Dropdown(
                    hairstyle_suggestions(), value=None, allow_custom_value=True, visible=False, elem_id="hairstyle-text",
                    label="Hairstyle in words", info="Pick a suggestion or type your own, e.g. 'long wavy hairstyle'.",
                )
                hairstyle_ref = gr.Image(
                    label="Whose hairstyle (a photo with a face)", type="filepath", visible=False, height=220,
                    sources=["upload", "clipboard"], elem_id="hairstyle-ref",
                )
                with gr.Accordion("Sketch strokes (optional)", open=False, elem_id="sketch-section"):
                    gr.Markdown("Draw a few lines along where the hair should flow; they change the hair locally.")
                    sketch = gr.ImageEditor(
                        label="Sketch on the crop", type="numpy", image_mode="RGBA", format="png", sources=[],
                        transforms=[], layers=False, canvas_size=(CANVAS_PX, CANVAS_PX), fixed_canvas=True,
                        brush=gr.Brush(colors=[SKETCH_COLOUR], color_mode="fixed", default_size=SKETCH_BRUSH_RADIUS_PX),
                        elem_id="sketch",
                    )
                with gr.Accordion("Hair mask (optional)", open=False, elem_id="mask-section"):
                    gr.Markdown(
                        "The face parser's map of the crop. Paint where hair (or face, ear, background) should be; "
                        "it steers a hairstyle from words or a reference photo.<br>" + _legend()
                    )
                    mask = gr.ImageEditor(
                        label="Hair mask", type="numpy", image_mode="RGBA", format="png", sources=[], transforms=[],
                        layers=False, canvas_size=(CANVAS_PX, CANVAS_PX), fixed_canvas=True,
                        brush=gr.Brush(
                            colors=[_rgb_css(c) for c in MASK_COLOURS.values()], default_color=_rgb_css(MASK_COLOURS[HAIR]),
                            color_mode="fixed", default_size=MASK_BRUSH_RADIUS_PX,
                        ),
                        elem_id="mask",
                    )
            with gr.Column():
                gr.Markdown("### 3. Colour")
                colour_from = gr.Radio(list(COLOUR_SOURCES), value="keep", label="Colour from", elem_id="colour-from")
                colour_text = gr.Textbox(
                    label="Colour in words", placeholder="e.g. platinum blonde hair", visible=False, elem_id="colour-text"
                )
                colour_ref = gr.Image(
                    label="Whose hair colour (a photo with a face)", type="filepath", visible=False, height=220,
                    sources=["upload", "clipboard"], elem_id="colour-ref",
                )
                colour_pick = gr.ColorPicker(value="#b5651d", label="Hair colour", visible=False, elem_id="colour-pick")
                with gr.Accordion("Settings", open=False):
                    preset = gr.Radio(
                        ["faithful", "fast"], value=app.editor.config.preset, label="Preset",
                        info="faithful: the paper's settings; fast: fewer steps, smaller losses (minutes -> seconds).",
                    )
                    seed = gr.Number(value=app.editor.config.seed, precision=0, label="Seed")
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                progress = gr.HTML("<p>Ready when you are.</p>", elem_id="progress")
                preview = gr.Image(
                    label="Live preview (the stage's proxy)", interactive=False, height=200, buttons=SHOW_BUTTONS,
                    elem_id="preview",
                )
        gr.Markdown("### 4. Result")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                compare = gr.ImageSlider(
                    label="Before / after (drag the handle)", type="pil", interactive=False, buttons=["fullscreen"],
                    elem_id="compare",
                )
                download = gr.DownloadButton("Download the edited photo", visible=False, elem_id="download")
            with gr.Column(scale=1):
                proxies = gr.Gallery(
                    label="Intermediate proxies", columns=3, height=260, fit_columns=False, interactive=False,
                    buttons=SHOW_BUTTONS, elem_id="proxies",
                )
        history = gr.Gallery(
            label="This session's edits (newest first)", columns=6, height=220, fit_columns=False, interactive=False,
            buttons=SHOW_BUTTONS, elem_id="history",
        )

        photo.change(
            app.photo_changed, [photo, session], [photo, faces, crop, sketch, mask, session], preprocess=False,
            show_progress="minimal",
        )
        faces.select(app.face_selected, [session], [crop, sketch, mask, session], show_progress="minimal")
        for reference, kind in ((hairstyle_ref, "hairstyle_ref"), (colour_ref, "color_ref")):
            reference.change(
                app.reference_changed(kind), [reference, session], [reference, session], preprocess=False,
                show_progress="minimal",
            )
        hairstyle_from.change(
            lambda source: (gr.update(visible=source == "words"), gr.update(visible=source == "reference photo")),
            [hairstyle_from], [hairstyle_text, hairstyle_ref], queue=False,
        )
        colour_from.change(
            lambda source: tuple(gr.update(visible=source == s) for s in ("words", "reference photo", "colour picker")),
            [colour_from], [colour_text, colour_ref, colour_pick], queue=False,
        )
        run.click(
            app.run,
            [session, hairstyle_from, hairstyle_text, sketch, mask, colour_from, colour_text, colour_pick, preset, seed],
            [progress, preview, compare, download, proxies, history, session],
            concurrency_limit=concurrency, concurrency_id="edit", show_progress="minimal",
        )
        stop.click(app.stop, None, None, queue=False)
    return page


# -- the command ----------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    from .commands import add_editor_options

    ui = subparsers.add_parser(
        "ui", help="start the browser interface",
        description="Start the browser interface. It listens on this computer only unless --host says otherwise.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network; no password!)")
    ui.add_argument("--port", type=int, default=7860, help="port to listen on")
    ui.add_argument("--max-upload-mb", type=float, default=25.0, help="largest file a user may upload")
    ui.add_argument("--concurrency", type=int, default=1, help="edits that may run at once; more wait in a queue")
    add_editor_options(ui)
    ui.set_defaults(func=run_ui)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_ui(args: argparse.Namespace) -> int:
    from .commands import build_editor

    if args.concurrency < 1:
        raise InputError(f"--concurrency must be at least 1. Got {args.concurrency}")
    if args.max_upload_mb <= 0:
        raise InputError(f"--max-upload-mb must be positive. Got {args.max_upload_mb}")
    editor = build_editor(args)
    if editor.cache is None:
        # Random networks get a throwaway cache, so a second edit of a photo still reuses its inversion.
        from .cache import InversionCache

        editor.cache = InversionCache(tempfile.mkdtemp(prefix="hairedit-smoke-cache-"))
        atexit.register(shutil.rmtree, editor.cache.folder, ignore_errors=True)
    app = HairEditApp(editor, smoke=args.smoke)
    # Stopped by a service manager (SIGTERM) as by Ctrl+C: the atexit clean-up still runs.
    signal.signal(signal.SIGTERM, _exit)
    if not _is_loopback(args.host):
        print(f"hairedit: listening on {args.host}: anyone who can reach this address can use the app.", file=sys.stderr)
    launch(app, build_app(app, args.concurrency), args.host, args.port, args.max_upload_mb)
    return 0


def _exit(signum, frame) -> None:
    raise SystemExit(0)


def launch(app: HairEditApp, page: gr.Blocks, host: str, port: int, max_upload_mb: float,
           block: bool = True) -> str:
    """Serve ``page``; returns its URL (at once when not ``block``, else after Ctrl+C)."""
    page.queue(default_concurrency_limit=1, api_open=False)
    try:
        _, url, _ = page.launch(
            server_name=host, server_port=port, share=False, inbrowser=False, show_error=True,
            max_file_size=int(max_upload_mb * 1024 * 1024), allowed_paths=[str(app.output_dir)],
            footer_links=[], run_history=False, enable_monitoring=False, mcp_server=False, ssr_mode=False,
            pwa=False, prevent_thread_lock=not block, quiet=False, css=CSS,
        )
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port} ({error}); choose another --port.") from error
    return url
