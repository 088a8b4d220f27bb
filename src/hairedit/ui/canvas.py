"""What the page's canvases hold: the mask painter's colours, painted masks, sketch strokes,
picker colours and face thumbnails. Plain arrays in and out; no Gradio."""

from __future__ import annotations

import re
from importlib import resources

import cv2
import numpy as np
from PIL import Image
from skimage.morphology import skeletonize

from ..conditions import parse_rgb
from ..face.detect import DetectedFace
from ..labels import BACKGROUND, EAR, FACE, HAIR

CANVAS_PX = 512  # the official sketch canvas; the mask painter uses the same square
STROKE_WIDTH_PX = 2  # the official sketches' stroke width on that canvas
FACE_THUMBNAIL_PX = 160

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


def hairstyle_suggestions() -> list[str]:
    """HairCLIP's 44 hairstyle descriptions (its ``mapper/hairstyle_list.txt``)."""
    text = resources.files("hairedit").joinpath("data/hairstyles.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


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


def face_caption(index: int) -> str:
    """Faces are counted from 0, largest first, as ``hairedit edit --face`` and ``hairedit align`` count them."""
    return f"face {index}" + (" (largest)" if index == 0 else "")


def crop_canvas(crop: np.ndarray) -> np.ndarray:
    """The aligned crop at the canvas size, the sketch canvas's background."""
    return np.asarray(Image.fromarray(crop).resize((CANVAS_PX, CANVAS_PX), Image.LANCZOS))


def rgb_css(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def mask_legend_html() -> str:
    """One swatch per painter colour, for the mask painter's help text."""
    items = [(MASK_NAMES[label], colour) for label, colour in MASK_COLOURS.items()] + [("other (left free)", OTHER_COLOUR)]
    return " &nbsp; ".join(
        f"<span class='swatch' style='background: rgb{colour}'></span> {name}" for name, colour in items
    )
