"""Reading what the user asks for: RGB colours, sketches and painted masks.

Sketches and masks are drawn on the aligned crop (``hairedit align`` writes it), at any
square size; both are brought to the official 512 px canvas.

Sketch files: light strokes on a dark background, dark strokes on a light background, or
strokes on a transparent background. They become the official representation, the one
HairCLIPv2's painter draws (``cv2.line(canvas, p, q, 128, 2)`` on a 512 px canvas): grey 128
strokes 3 px wide on black. Strokes drawn much wider or thinner than that are thinned to
their centre line and redrawn at that width, because the sketch encoder learnt from such
strokes.

Mask files, a label per pixel with the parser's 16 classes (the mask loss counts
0 background, 1 face, 6 ear and 10 hair and ignores the rest, as the official painter, which
paints over the crop's parse):

- a greyscale image (or RGB with equal channels) whose values are the labels, 0..15;
- a colour image painted in the official painter's colours (``vis_seg``: background black,
  face (102, 204, 255), ear (51, 255, 51), hair (204, 102, 255), ...); the hairedit UI
  shows the same colours. Blended brush edges take the nearest colour.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageColor

from .errors import InputError
from .imageio import PhotoLike, has_transparency, load_photo, open_image
from .labels import N_CLASSES

CANVAS_PX = 512  # the official painter's canvas
SKETCH_GREY = 128  # the official strokes' value
# The official painter's strokes (cv2.line, thickness 2) are 3 px wide: a 1 px centre line
# dilated by this square draws the same lines.
STROKE_KERNEL = np.ones((3, 3), np.uint8)
# Strokes drawn like the official ones cover 0.77-1.01 times the area of their redrawn centre
# line (measured on random official-style sketches; 3 px wide strokes cover 1.28 times or
# more, 1 px ones a third). Strokes in this range are kept as drawn, others redrawn.
OFFICIAL_STROKE_AREA = (0.75, 1.2)
STROKE_LEVEL = 64  # a pixel this much lighter (darker) than a dark (light) background is a stroke
MAX_STROKE_FRACTION = 0.25  # more of the canvas than this is a picture, not a sketch

# The official painter's colour of each label (utils/seg_utils.py vis_seg), RGB. Some colours
# repeat; such a colour reads as its first label (all of them are labels the mask loss ignores).
LABEL_COLOURS = (
    (0, 0, 0), (102, 204, 255), (255, 204, 255), (255, 255, 153), (255, 255, 153), (255, 255, 102),
    (51, 255, 51), (0, 153, 255), (0, 255, 255), (0, 255, 255), (204, 102, 255), (0, 153, 255),
    (0, 255, 153), (0, 51, 0), (102, 153, 255), (255, 153, 102),
)
COLOUR_TOLERANCE = 40  # RGB distance within which a painted colour counts as a label's colour
MAX_OFF_PALETTE_FRACTION = 0.02  # blended brush edges; more than this is not a painted mask
MASK_HINT = "paint 0 (background), 1 (face), 6 (ear) or 10 (hair) over the crop's parse"


ALL_FACES = "all"  # --face all, face: all: every face of the photo, one after the other


def parse_face(value: str | int) -> int | str:
    """Which face to edit: 0, 1, ... (0 the largest) or "all". Raises ValueError naming what is allowed."""
    if isinstance(value, str) and value.strip().lower() == ALL_FACES:
        return ALL_FACES
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"face must be 0 or more (0 is the largest face) or 'all', not {value!r}")


def parse_rgb(value: str | tuple | list) -> tuple[int, int, int]:
    """A colour -> (r, g, b), each 0..255.

    ``value``: "R,G,B" (commas or spaces), "#RRGGBB", "#RGB", a CSS colour name ("crimson"),
    "rgb(...)" / "hsl(...)", or a sequence of three whole numbers.
    """
    if isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+(\s*,\s*|\s+)-?\d+(\s*,\s*|\s+)-?\d+", text):
            parts = [int(p) for p in re.split(r"[,\s]+", text)]
        else:
            try:
                parts = list(ImageColor.getrgb(text))[:3]
            except ValueError:
                raise InputError(
                    f"'{value}' is not a colour. Use R,G,B (e.g. 180,40,40), #RRGGBB, or a colour name such as "
                    "'crimson'."
                ) from None
    whole = all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in parts)
    if len(parts) != 3 or not whole:
        raise InputError(f"an RGB colour needs three whole numbers, e.g. 180,40,40. Got {value!r}")
    if not all(0 <= p <= 255 for p in parts):
        raise InputError(f"RGB values must be between 0 and 255. Got {tuple(int(p) for p in parts)}")
    return int(parts[0]), int(parts[1]), int(parts[2])


# -- the whole request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    """What an edit asks for, read and checked. Reference photos are RGB uint8 (H, W, 3); the
    sketch is the official (canvas, canvas) uint8 strokes; the mask (canvas, canvas) labels."""

    hairstyle: str | None = None
    hairstyle_ref: np.ndarray | None = None
    sketch: np.ndarray | None = None
    mask: np.ndarray | None = None
    color: str | None = None
    color_ref: np.ndarray | None = None
    rgb: tuple[int, int, int] | None = None

    @property
    def global_hairstyle(self) -> bool:
        """A text or reference hairstyle (the global proxy, which needs the bald proxy)."""
        return self.hairstyle is not None or self.hairstyle_ref is not None

    @property
    def recolours(self) -> bool:
        return self.color is not None or self.color_ref is not None or self.rgb is not None


def check_conditions(
    hairstyle: str | None = None,
    hairstyle_ref: PhotoLike | None = None,
    sketch: PhotoLike | None = None,
    mask: PhotoLike | None = None,
    color: str | None = None,
    color_ref: PhotoLike | None = None,
    rgb: str | tuple | None = None,
    canvas_px: int = CANVAS_PX,
) -> Conditions:
    """Read and check every condition of an edit, before any network is loaded.

    Raises InputError saying what is wrong: nothing asked, text and reference hairstyles
    together, several colours, a mask without a hairstyle to steer, empty text, unreadable
    files, bad colours, sketches or masks.
    """
    if hairstyle is not None and not str(hairstyle).strip():
        raise InputError("the hairstyle text is empty.")
    if color is not None and not str(color).strip():
        raise InputError("the colour text is empty.")
    if mask is not None and hairstyle is None and hairstyle_ref is None:
        raise InputError("a painted mask steers a text or reference hairstyle; give --hairstyle or --hairstyle-ref too.")
    if all(v is None for v in (hairstyle, hairstyle_ref, sketch, color, color_ref, rgb)):
        raise InputError(
            "nothing to do: give a hairstyle (text, reference photo or sketch) and/or a colour (text, reference "
            "photo or RGB)."
        )
    if hairstyle is not None and hairstyle_ref is not None:
        raise InputError(
            "a text hairstyle and a reference hairstyle cannot be combined: HairCLIPv2 blends one global hairstyle "
            "proxy. Choose one (a sketch can be added to either)."
        )
    if sum(v is not None for v in (color, color_ref, rgb)) > 1:
        raise InputError("give one colour: text, reference photo or RGB.")
    return Conditions(
        hairstyle=None if hairstyle is None else str(hairstyle).strip(),
        hairstyle_ref=None if hairstyle_ref is None else load_photo(hairstyle_ref, "the hairstyle reference"),
        sketch=None if sketch is None else load_sketch(sketch, canvas_px),
        mask=None if mask is None else load_mask(mask),
        color=None if color is None else str(color).strip(),
        color_ref=None if color_ref is None else load_photo(color_ref, "the colour reference"),
        rgb=None if rgb is None else parse_rgb(rgb),
    )


# -- sketches ----------------------------------------------------------------------------------


def load_sketch(source: PhotoLike, size_px: int = CANVAS_PX) -> np.ndarray:
    """A drawn sketch, any square size -> (size_px, size_px) uint8: 128 on strokes, else 0.

    Raises InputError naming the file when it is unreadable, not square, empty, or mostly
    strokes (a photo given by mistake).
    """
    import cv2  # only where a sketch or mask is read: not for --help, colours, or argument errors

    name = _name(source, "the sketch")
    drawn = _square(_drawn_pixels(source, name), "sketch", name)
    if not drawn.any():
        raise InputError(f"{name} has no strokes: draw light strokes on a black image of the aligned crop's size.")
    if drawn.mean() > MAX_STROKE_FRACTION:
        raise InputError(
            f"{name} does not look like a sketch: {drawn.mean():.0%} of it is strokes. Draw a few light lines on a "
            "black image (dark lines on white work too)."
        )
    strokes = official_strokes(_resize_strokes(drawn, CANVAS_PX))
    if size_px != CANVAS_PX:
        strokes = cv2.resize(strokes, (size_px, size_px), interpolation=cv2.INTER_NEAREST)
    return strokes * SKETCH_GREY


def official_strokes(drawn: np.ndarray) -> np.ndarray:
    """Stroke pixels (512, 512) bool -> (512, 512) uint8 {0, 1} strokes of the official width.

    Strokes already about as wide as the official ones are kept as they are.
    """
    import cv2
    from skimage.morphology import skeletonize

    redrawn = cv2.dilate(skeletonize(drawn).astype(np.uint8), STROKE_KERNEL)
    area = drawn.sum() / max(1, redrawn.sum())
    if OFFICIAL_STROKE_AREA[0] <= area <= OFFICIAL_STROKE_AREA[1]:
        return drawn.astype(np.uint8)
    return redrawn


def _drawn_pixels(source: PhotoLike, name: str) -> np.ndarray:
    """Where the strokes are, (H, W) bool, whichever way round the sketch was drawn."""
    image = _open(source)
    alpha = _alpha(image)
    if alpha is not None and alpha.min() < 128 <= alpha.max():
        return alpha >= 128  # strokes on a transparent background
    grey = load_photo(image, name).max(axis=2)
    if np.median(grey) > 127:  # dark strokes on a light background
        return grey < 255 - STROKE_LEVEL
    return grey > STROKE_LEVEL


def _resize_strokes(drawn: np.ndarray, size_px: int) -> np.ndarray:
    """Bool (s, s) -> bool (size_px, size_px), keeping every stroke (thin ones included)."""
    import cv2

    if drawn.shape[0] == size_px:
        return drawn
    if drawn.shape[0] > size_px:
        # Any coverage marks the pixel: a 1 px line on a 2048 px canvas must not vanish.
        return cv2.resize(drawn.astype(np.float32), (size_px, size_px), interpolation=cv2.INTER_AREA) > 0
    return cv2.resize(drawn.astype(np.uint8), (size_px, size_px), interpolation=cv2.INTER_NEAREST) > 0


# -- masks ---------------------------------------------------------------------------------------


def load_mask(source: PhotoLike, size_px: int = CANVAS_PX) -> np.ndarray:
    """A painted label map, any square size -> (size_px, size_px) uint8 labels 0..15.

    See the module notes for the accepted files. Raises InputError naming the file when it
    is unreadable, not square, or holds values that are not labels.
    """
    import cv2

    name = _name(source, "the mask")
    values = _mask_values(_open(source), name)
    if values.ndim == 3:
        values = values[..., 0] if (values == values[..., :1]).all() else _labels_of_colours(values, name)
    labels = _square(values, "mask", name)
    unknown = sorted(set(np.unique(labels).tolist()) - set(range(N_CLASSES)))
    if unknown:
        black_and_white = set(np.unique(labels).tolist()) <= {0, 255}
        kind = "is black and white" if black_and_white else f"has values {unknown[:5]}"
        raise InputError(f"{name} {kind}, but a mask holds the parser's labels 0-15: {MASK_HINT}.")
    labels = labels.astype(np.uint8)
    if labels.shape[0] != size_px:
        labels = cv2.resize(labels, (size_px, size_px), interpolation=cv2.INTER_NEAREST)
    return labels


def _mask_values(image: Image.Image | np.ndarray, name: str) -> np.ndarray:
    """The stored values: (H, W) for one-channel files, (H, W, 3) for colour ones."""
    if isinstance(image, Image.Image):
        if image.mode == "1":
            image = image.convert("L")
        elif image.mode in ("LA", "La"):
            image = image.getchannel("L")
        elif image.mode not in ("L", "I", "I;16", "I;16B", "I;16L", "I;16N"):
            # Palette files included: a paint program's PNG-8 holds colours, not labels.
            image = image.convert("RGB")
        values = np.asarray(image)
    else:
        values = np.asarray(image)
        if values.ndim == 3 and values.shape[2] == 1:
            values = values[..., 0]
    if values.ndim == 3 and values.shape[2] == 4:
        values = values[..., :3]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] != 3):
        raise InputError(f"{name}: expected a label map (H, W) or a colour image (H, W, 3). Got shape {values.shape}")
    if values.dtype.kind == "f":
        if not np.array_equal(values, np.round(values)):
            raise InputError(f"{name} holds fractions; a mask holds whole labels: {MASK_HINT}.")
        values = values.astype(np.int64)
    return values


def _labels_of_colours(colours: np.ndarray, name: str) -> np.ndarray:
    """(H, W, 3) painted in the official colours -> (H, W) labels."""
    unique, inverse = np.unique(colours.reshape(-1, 3), axis=0, return_inverse=True)
    palette = np.array(LABEL_COLOURS, np.float64)
    distances = np.linalg.norm(unique[:, None, :].astype(np.float64) - palette[None], axis=2)
    nearest = distances.argmin(1)  # argmin takes the first of repeated colours
    counts = np.bincount(inverse.ravel(), minlength=len(unique))
    off_palette = counts[distances.min(1) > COLOUR_TOLERANCE].sum() / inverse.size
    if off_palette > MAX_OFF_PALETTE_FRACTION:
        raise InputError(
            f"{name} is a colour image but not a painted mask ({off_palette:.0%} of it is in none of the painter's "
            f"colours). Give a label map (greyscale, values 0-15) or a mask painted in the official colours: "
            f"background black, face {LABEL_COLOURS[1]}, ear {LABEL_COLOURS[6]}, hair {LABEL_COLOURS[10]}."
        )
    return nearest[inverse.ravel()].reshape(colours.shape[:2]).astype(np.uint8)


# -- shared --------------------------------------------------------------------------------------


def _name(source: object, default: str) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else default


def _open(source: PhotoLike) -> Image.Image | np.ndarray:
    """A path opened (InputError naming it when unreadable); anything else as given."""
    if isinstance(source, (str, os.PathLike)):
        return open_image(source)
    if isinstance(source, (Image.Image, np.ndarray)):
        return source
    return load_photo(source)  # a tensor: load_photo knows its layouts


def _alpha(image: Image.Image | np.ndarray) -> np.ndarray | None:
    """The alpha channel (H, W) uint8 of an image that has one, else None."""
    if isinstance(image, np.ndarray):
        return image[..., 3] if image.ndim == 3 and image.shape[2] == 4 and image.dtype == np.uint8 else None
    if has_transparency(image):
        return np.asarray(image.convert("RGBA"))[..., 3]
    return None


def _square(array: np.ndarray, what: str, name: str) -> np.ndarray:
    if array.shape[0] != array.shape[1]:
        raise InputError(
            f"{name} is {array.shape[1]}x{array.shape[0]}; a {what} must be square, drawn on the aligned crop "
            "(`hairedit align` writes it)."
        )
    return array
