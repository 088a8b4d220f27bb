"""The page: :func:`build_app` lays out the components and wires them to a HairEditApp.

Left to right: the photo and its faces; hairstyle, colour, Refine and Stop with the messages
and progress under them; what the networks see (the aligned crop and the live preview).
At 800 px the first two columns still sit side by side, so Refine is on the first screen.
Each change of what is asked runs an instant edit (the live preview) into the before/after;
Refine runs the chosen preset from the same inputs.
"""

from __future__ import annotations

import os

import gradio as gr

from ..config import PRESETS
from ..labels import HAIR
from .canvas import (
    CANVAS_PX,
    MASK_BRUSH_RADIUS_PX,
    MASK_COLOURS,
    SKETCH_BRUSH_RADIUS_PX,
    SKETCH_COLOUR,
    hairstyle_suggestions,
    mask_legend_html,
    rgb_css,
)
from .canvas_editor import canvas_editor
from .handlers import HairEditApp
from .inputs import COLOUR_SOURCES, HAIRSTYLE_SOURCES

SHOW_BUTTONS = ["download", "fullscreen"]  # no "share": nothing leaves this computer
COLUMN_MIN_PX = 320


def build_app(app: HairEditApp, concurrency: int = 1) -> gr.Blocks:
    """The page. ``concurrency`` edits may run at once (each holds the networks' activations).

    Gradio's cache moves into the sessions' folder, swept with them: photos are personal.
    """
    os.environ["GRADIO_TEMP_DIR"] = str(app.sessions.gradio_dir)  # read as the page is built and served
    with gr.Blocks(title="hairedit", analytics_enabled=False) as page:
        gr.Markdown(
            "# hairedit: change only the hair\n"
            "1. Upload a photo and pick the face. 2. Choose a hairstyle and/or a colour: an instant preview "
            "follows each change. 3. Press **Refine** for the chosen preset. Everything but the hair stays as it "
            "was; see the help in each section."
        )
        if app.smoke:
            gr.Markdown(
                "**Smoke mode:** small random networks and few steps. The interface works end to end, "
                "but the pictures it makes are meaningless.",
                elem_id="smoke-banner",
            )
        with gr.Group(visible=False, elem_id="weights-panel") as weights_panel:
            weights_summary = gr.HTML(elem_id="weights-summary")
            weights_button = gr.Button("Download the pretrained files", variant="primary", elem_id="weights-download")
            weights_progress = gr.HTML(elem_id="weights-progress")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=COLUMN_MIN_PX):
                gr.Markdown("### 1. Photo")
                photo = gr.Image(
                    label="Photo", sources=["upload", "webcam", "clipboard"], type="filepath", height=300,
                    buttons=["fullscreen"], elem_id="photo",
                )
                gr.Markdown("Faces found, largest first: click the one to edit.")
                faces = gr.Gallery(
                    label="Faces found", show_label=False, columns=3, height=190, allow_preview=False,
                    object_fit="contain", fit_columns=False, interactive=False, buttons=[], elem_id="faces",
                )
                every_face = gr.Checkbox(
                    False, label="Edit every face", elem_id="every-face",
                    info="largest first, each on the result of the one before (the face picked shows the crop)",
                )
            with gr.Column(min_width=COLUMN_MIN_PX):
                hairstyle = _hairstyle_inputs()
                colour = _colour_inputs()
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    preset = gr.Radio(
                        list(PRESETS), value=app.preset, label="Preset", elem_id="preset",
                        info="faithful: the paper's settings, minutes on a GPU; the others take fewer steps.",
                    )
                    seed = gr.Number(value=app.seed, precision=0, label="Seed", elem_id="seed")
                    live = gr.Checkbox(
                        value=not app.instant_missing(), label="Instant preview as you choose",
                        elem_id="live-preview", info=_live_preview_info(app), visible=app.live_previews,
                    )
                with gr.Row():
                    run = gr.Button("Refine", variant="primary", elem_id="run")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                messages = gr.HTML(elem_id="messages")
                progress = gr.HTML("<p>Ready when you are.</p>", elem_id="progress")
            with gr.Column(min_width=COLUMN_MIN_PX):
                crop = gr.Image(
                    label="Aligned crop (what the networks see)", interactive=False, height=256, buttons=SHOW_BUTTONS,
                    elem_id="crop",
                )
                preview = gr.Image(
                    label="Live preview (the stage's proxy)", interactive=False, height=256, buttons=SHOW_BUTTONS,
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
            label="This tab's edits (newest first)", columns=6, height=220, fit_columns=False, interactive=False,
            buttons=SHOW_BUTTONS, elem_id="history",
        )

        # Photos are read, searched for faces and parsed one at a time, beside the running edits.
        photo_work = {"concurrency_id": "photo", "concurrency_limit": 1, "show_progress": "minimal"}
        # The live preview: an instant edit after each change of what is asked; a change made while
        # one runs waits, and only the last of several waiting changes runs (trigger_mode).
        preview_inputs = [hairstyle["from"], hairstyle["text"], hairstyle["sketch"], hairstyle["mask"], colour["from"],
                          colour["text"], colour["pick"], seed, live]
        preview_work = {"fn": app.live_preview, "inputs": preview_inputs, "outputs": [compare, messages],
                        "concurrency_id": "preview", "concurrency_limit": 1, "trigger_mode": "always_last",
                        "show_progress": "hidden"}

        # A new photo or face: its per-photo work is done first (in the preview's turn), so the
        # previews after it are follow-ups.
        prepare_work = {"fn": app.prepare_photo, "inputs": [seed, live], "outputs": None,
                        "concurrency_id": "preview", "concurrency_limit": 1, "show_progress": "hidden"}

        def then_preview(event, prepare: bool = False) -> None:
            if app.live_previews:
                (event.then(**prepare_work) if prepare else event).then(**preview_work)

        then_preview(photo.change(
            app.photo_changed, [photo], [photo, faces, crop, hairstyle["sketch"], hairstyle["mask"], messages],
            preprocess=False, **photo_work,
        ), prepare=True)
        then_preview(faces.select(
            app.face_selected, None, [crop, hairstyle["sketch"], hairstyle["mask"], messages], **photo_work
        ), prepare=True)
        then_preview(every_face.change(app.every_face_changed, [every_face], None, **photo_work))
        for kind, reference in (("hairstyle_ref", hairstyle["ref"]), ("color_ref", colour["ref"])):
            then_preview(reference.change(
                app.reference_changed(kind), [reference], [reference, messages], preprocess=False, **photo_work
            ))
        if app.live_previews:
            gr.on(
                [hairstyle["from"].change, hairstyle["text"].change, hairstyle["sketch"].change,
                 hairstyle["mask"].change, colour["from"].change, colour["text"].submit, colour["text"].blur,
                 colour["pick"].change, live.change],
                **preview_work,
            )
        run.click(
            app.run,
            [hairstyle["from"], hairstyle["text"], hairstyle["sketch"], hairstyle["mask"], colour["from"],
             colour["text"], colour["pick"], preset, seed],
            [progress, preview, compare, download, proxies, history, messages],
            concurrency_limit=concurrency, concurrency_id="edit", show_progress="minimal",
        )
        stop.click(app.stop, None, None, queue=False)
        # Every tab may follow the one shared download; it only waits on it.
        weights_button.click(
            app.download_weights, None, [weights_progress, weights_button], concurrency_limit=None,
            concurrency_id="weights", show_progress="hidden",
        )
        page.load(app.weights_panel, None, [weights_panel, weights_summary, weights_progress], queue=False)
        page.unload(app.forget)
    return page


def _live_preview_info(app: HairEditApp) -> str:
    missing = app.instant_missing()
    if not missing:
        return "Forward passes only (the instant preset), seconds; Refine runs the preset chosen under Settings."
    return (f"Needs the instant preset's files ({', '.join(entry.name for entry in missing)}): "
            "`hairedit weights download --all`.")


def _hairstyle_inputs() -> dict[str, gr.components.Component]:
    gr.Markdown("### 2. Hairstyle")
    source = gr.Radio(list(HAIRSTYLE_SOURCES), value="keep", label="Hairstyle from", elem_id="hairstyle-from")
    text = gr.Dropdown(
        hairstyle_suggestions(), value=None, allow_custom_value=True, visible=False, elem_id="hairstyle-text",
        label="Hairstyle in words", info="Pick a suggestion or type your own, e.g. 'long wavy hairstyle'.",
    )
    reference = gr.Image(
        label="Whose hairstyle (a photo with a face)", type="filepath", visible=False, height=160,
        sources=["upload", "clipboard"], elem_id="hairstyle-ref",
    )
    with gr.Accordion("Sketch strokes (optional)", open=False, elem_id="sketch-section"):
        gr.Markdown("Draw a few lines along where the hair should flow; they change the hair locally.")
        sketch = canvas_editor(
            label="Sketch on the crop", type="numpy", image_mode="RGBA", format="png", sources=[],
            transforms=[], layers=False, canvas_size=(CANVAS_PX, CANVAS_PX), fixed_canvas=True,
            brush=gr.Brush(colors=[SKETCH_COLOUR], color_mode="fixed", default_size=SKETCH_BRUSH_RADIUS_PX),
            elem_id="sketch",
        )
    with gr.Accordion("Hair mask (optional)", open=False, elem_id="mask-section"):
        gr.Markdown(
            "The face parser's map of the crop. Paint where hair (or face, ear, background) should be; "
            "it steers a hairstyle from words or a reference photo.<br>" + mask_legend_html()
        )
        mask = canvas_editor(
            label="Hair mask", type="numpy", image_mode="RGBA", format="png", sources=[], transforms=[],
            layers=False, canvas_size=(CANVAS_PX, CANVAS_PX), fixed_canvas=True,
            brush=gr.Brush(
                colors=[rgb_css(c) for c in MASK_COLOURS.values()], default_color=rgb_css(MASK_COLOURS[HAIR]),
                color_mode="fixed", default_size=MASK_BRUSH_RADIUS_PX,
            ),
            elem_id="mask",
        )
    source.change(
        lambda chosen: (gr.update(visible=chosen == "words"), gr.update(visible=chosen == "reference photo")),
        [source], [text, reference], queue=False,
    )
    return {"from": source, "text": text, "ref": reference, "sketch": sketch, "mask": mask}


def _colour_inputs() -> dict[str, gr.components.Component]:
    gr.Markdown("### 3. Colour")
    source = gr.Radio(list(COLOUR_SOURCES), value="keep", label="Colour from", elem_id="colour-from")
    text = gr.Textbox(label="Colour in words", placeholder="e.g. platinum blonde hair", visible=False,
                      elem_id="colour-text")
    reference = gr.Image(
        label="Whose hair colour (a photo with a face)", type="filepath", visible=False, height=160,
        sources=["upload", "clipboard"], elem_id="colour-ref",
    )
    pick = gr.ColorPicker(value="#b5651d", label="Hair colour", visible=False, elem_id="colour-pick")
    source.change(
        lambda chosen: tuple(gr.update(visible=chosen == s) for s in ("words", "reference photo", "colour picker")),
        [source], [text, reference, pick], queue=False,
    )
    return {"from": source, "text": text, "ref": reference, "pick": pick}
