"""The sketch and mask canvases: Gradio's image editor, with each layer's size checked before
Gradio decodes it.

The page sends a canvas of CANVAS_PX square, but a crafted request can send a layer of any
size; Gradio would decode it whole, bounded only by Pillow's own limit (about 179 million
pixels). The photo and reference uploads need no such care: they reach hairedit undecoded.
"""

from __future__ import annotations

import io
import types

import gradio as gr
from gradio.data_classes import FileData
from PIL import UnidentifiedImageError

from ..imageio import open_header
from .canvas import CANVAS_PX

# Room for a browser that exports the canvas at a high device-pixel ratio; far below a bomb.
MAX_LAYER_PX = (4 * CANVAS_PX) ** 2


def canvas_editor(**options) -> gr.ImageEditor:
    """``gr.ImageEditor(**options)`` whose layers are refused, from their header, when far
    larger than the canvas. (The check wraps the one instance: a subclass of a Gradio component
    would have Gradio write a type-stub file beside this module, wherever it is installed.)"""
    editor = gr.ImageEditor(**options)
    decode = editor.convert_and_format_image

    def checked(self, file: FileData | None | bytes, flatten_on_white: bool = False):
        if file is not None:
            _check_layer(file.path if isinstance(file, FileData) else io.BytesIO(file))
        return decode(file, flatten_on_white)

    editor.convert_and_format_image = types.MethodType(checked, editor)
    return editor


def _check_layer(source) -> None:
    try:
        with open_header(source) as header:  # reads the header only
            size_px = header.size[0] * header.size[1]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise gr.Error("A canvas layer is not a readable image; reload the page.", print_exception=False) from None
    if size_px > MAX_LAYER_PX:
        raise gr.Error(f"A canvas layer is far larger than the {CANVAS_PX}x{CANVAS_PX} canvas; reload the page.",
                       print_exception=False)
