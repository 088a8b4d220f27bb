"""The page's hairstyle and colour inputs -> the keyword arguments of ``HairEditor.edit``."""

from __future__ import annotations

from ..errors import InputError
from .canvas import painted_mask, picker_rgb, sketch_strokes
from .session import EditSession

HAIRSTYLE_SOURCES = ("keep", "words", "reference photo")
COLOUR_SOURCES = ("keep", "words", "reference photo", "colour picker")


def hairstyle_conditions(session: EditSession, source: str, text: str | None, sketch: dict | None,
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


def colour_conditions(session: EditSession, source: str, text: str | None, picked: str | None) -> dict:
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
