"""What an edit returns: the whole photo, the aligned crop before and after, every proxy."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .face.align import AlignedFace
from .face.detect import DetectedFace
from .imageio import PhotoInfo, save_photo


class ProxyImages:
    """What each stage produced, (H, W, 3) uint8 at the generator's size; None when unused.

    An image the result does not need is only rendered when first read (``defer``): an edit
    whose proxies nobody looks at (the UI's live preview, batch rows) skips those syntheses.
    A deferred render runs without the edit's precision options (autocast, compile).
    """

    NAMES = ("reconstruction", "bald", "hairstyle", "sketch", "hairstyle_blend", "color_stage1")

    def __init__(self, **images: np.ndarray | None):
        object.__setattr__(self, "_images", dict.fromkeys(self.NAMES))
        object.__setattr__(self, "_pending", {})
        object.__setattr__(self, "_lock", threading.Lock())
        for name, image in images.items():
            setattr(self, name, image)

    def defer(self, name: str, render: Callable[[], np.ndarray]) -> None:
        """``name``'s image is ``render()``, called when first read."""
        self._check(name)
        self._images[name] = None
        self._pending[name] = render

    def __setattr__(self, name: str, image: np.ndarray | None) -> None:
        self._check(name)
        self._pending.pop(name, None)
        self._images[name] = image

    def __getattr__(self, name: str) -> np.ndarray | None:
        if name not in self.NAMES:
            raise AttributeError(name)
        with self._lock:
            render = self._pending.pop(name, None)
            if render is not None:
                self._images[name] = render()
            return self._images[name]

    def items(self) -> list[tuple[str, np.ndarray]]:
        """(name, image) of every proxy the edit produced, deferred ones rendered now."""
        images = [(name, getattr(self, name)) for name in self.NAMES]
        return [(name, image) for name, image in images if image is not None]

    def __getstate__(self) -> dict:  # a result sent to another process carries its images
        return dict(self.items())

    def __setstate__(self, images: dict) -> None:
        self.__init__(**images)

    def _check(self, name: str) -> None:
        if name not in self.NAMES:
            raise AttributeError(f"no proxy named {name!r}; proxies are {', '.join(self.NAMES)}")


@dataclass
class EditMasks:
    """Masks (S, S) float in [0, 1] in crop coordinates at the generator's size, and the
    whole-photo step's at the photo's size."""

    hair_before: np.ndarray
    hair_after: np.ndarray
    edit_region: np.ndarray  # what paste-back may change, before feathering
    sketch_region: np.ndarray | None = None
    # At the photo's size, (H, W) bool (None where not computed): what paste-back may change, and
    # the whole-photo step's masks.
    paste_region: np.ndarray | None = None
    hair_photo_before: np.ndarray | None = None  # the face's hair before the edit, past the crop too
    hair_photo_after: np.ndarray | None = None  # after: the crop's new hair, old hair kept past it, hair continued
    inpaint_region: np.ndarray | None = None  # what the inpainting may have changed


@dataclass
class EditResult:
    image: Image.Image  # the whole photo, edited
    crop_before: Image.Image  # the aligned 1024 px crop
    crop_after: Image.Image
    proxies: ProxyImages
    masks: EditMasks
    timings: dict[str, float]  # seconds per stage
    face_index: int
    faces: list[DetectedFace] = field(default_factory=list)
    aligned: AlignedFace | None = None
    warnings: list[str] = field(default_factory=list)  # things the user should know about the result
    photo: np.ndarray | None = None  # the photo as read, (H, W, 3) uint8
    photo_info: PhotoInfo = field(default_factory=PhotoInfo)  # its format, profile, EXIF, transparency
    photo_reused: bool = False  # the per-photo work (faces, inversion, parse) came from the editor's photo cache
    face_results: list[EditResult] = field(default_factory=list)  # face="all": each face's own, in the order edited

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the edited photo as the CLI does, keeping what the original had.

        The format follows the extension (the original's when there is none); a JPEG is
        re-encoded with the original's own quantization tables, so pixels outside the edit
        stay as close to the original as re-encoding allows; the ICC profile and EXIF are kept,
        and so is transparency (PNG, WebP, TIFF). Written atomically; an existing file is kept
        unless ``overwrite``. Returns the path written.
        """
        edited = np.asarray(self.image)
        original = edited if self.photo is None else self.photo
        return save_photo(edited, path, self.photo_info, original, overwrite)
