"""``hairedit ui``: the browser interface, a Gradio app around :class:`~hairedit.pipeline.HairEditor`.

The page follows an edit from left to right: a photo, the face to edit, a hairstyle (words,
a reference photo, sketch strokes, a painted hair mask) and a colour (words, a reference
photo, a colour picker), with an instant preview after each change, then Refine. Edits go
through Gradio's queue, one at a time unless ``--concurrency`` says otherwise; Stop sets the
running edit's ``cancel`` event, so the edit ends at its next optimisation step.

Modules: :mod:`.canvas` (what the canvases hold), :mod:`.session` (each tab's photos and
results, bounded), :mod:`.weights` (downloading missing pretrained files), :mod:`.inputs`
(page inputs -> edit arguments), :mod:`.render` (progress and messages), :mod:`.handlers`
(:class:`HairEditApp`), :mod:`.layout` (:func:`build_app`), :mod:`.command` (options,
logins, :func:`launch`). Only ``command`` is imported up front: the rest loads Gradio.
"""

import importlib
import os

from .._requirements import require

# Before gradio is imported: no telemetry and no version check, so the app never calls out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
require("gradio")  # an older gradio lacks arguments the page uses: say so in one line (without importing it)

from .command import launch, register, run_ui  # noqa: E402

_LAZY = {"HairEditApp": "handlers", "build_app": "layout"}

__all__ = ["HairEditApp", "build_app", "launch", "register", "run_ui"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
