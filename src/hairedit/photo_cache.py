"""A photo's per-photo work, kept in memory so that a follow-up edit of the same photo (another
hairstyle or colour, the UI's live preview) runs only the per-condition part: the mapper, the
blending, the colour and the paste-back.

An entry (:class:`PhotoState`) holds the faces found, the aligned crop, the crop as the
generator's input, its inversion (W+ and F), its parse, and, once an edit with a global
hairstyle asked for them, the bald proxy, its F and the state of the blending noise stream
after drawing that F (the global proxy's F draws on from there); once an edit reached the
whole-photo step, the photo's hair around and below the crop. Its key, as the inversion
cache's, holds everything that changes any of it: the photo's pixels, the face, every setting
those stages read, the seed, the precision and compiled synthesis, the torch version, the
device and fingerprints of the networks used. Entries are dropped least recently used first
past a byte budget (default 256 MiB, a dozen photos at 1024 px). Values are shared, never
changed in place: an edit that changes a tensor copies it first.

Every preset keeps the cheapest part of it, the faces found and aligned (:class:`FoundFaces`):
another edit of a photo (Refine after the page found its faces, the next hairstyle from
Python, a batch's rows of one photo, each face of ``face="all"``) skips finding and aligning
them, 0.6 s for a small photo and seconds for a large one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .cache import cache_key
from .face.align import CROP_SIZE_PX, AlignedFace, align_face
from .face.detect import DetectedFace, choose_face, detect_faces
from .stages.inversion import Inversion

DEFAULT_MAX_BYTES = 256 * 2**20
FOUND_PHOTOS = 8  # photos whose faces are kept: a few MB each (the crops aligned so far)


@dataclass
class BaldState:
    """The bald proxy of a photo: its latent, its F, and the blending noise stream's state
    after drawing that F (None: blending uses the fixed noise)."""

    latent: torch.Tensor
    features: torch.Tensor
    noise_state: torch.Tensor | None


@dataclass
class PhotoState:
    """What an edit computes from the photo alone (see the module docstring)."""

    faces: list[DetectedFace]
    aligned: AlignedFace
    source: torch.Tensor  # the crop at the generator's size, (1, 3, S, S) in [-1, 1]
    inversion: Inversion
    labels: torch.Tensor  # the crop's parse at the parser's size, (1, 1, p, p) long (blending)
    labels_full: torch.Tensor  # and at the generator's, (1, 1, S, S) uint8 (paste-back, an RGB colour's reference)
    bald: BaldState | None = None  # filled by the first edit with a global hairstyle
    hair_in_photo: np.ndarray | None = None  # the window parse's hair, (H, W) bool, from the first whole-photo step
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def nbytes(self) -> int:
        """Bytes held (the tensors and the crop; the faces are a few numbers)."""
        total = self.aligned.crop.nbytes
        values = [getattr(self, f.name) for f in fields(self)] + [self.inversion.latent, self.inversion.features,
                                                                  self.inversion.w_latent]
        if self.bald is not None:
            values += [self.bald.latent, self.bald.features, self.bald.noise_state]
        for value in values:
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
        if self.hair_in_photo is not None:
            total += self.hair_in_photo.nbytes
        return total

    def bald_state(self, compute) -> BaldState:
        """The bald proxy, ``compute()`` the first time (once, whichever edit asks first)."""
        return self._filled("bald", compute)

    def photo_hair(self, compute) -> np.ndarray:
        """The hair of the photo around and below the crop (the whole-photo step's window
        parse), ``compute()`` the first time."""
        return self._filled("hair_in_photo", compute)

    def _filled(self, name: str, compute):
        with self._lock:
            if getattr(self, name) is None:
                setattr(self, name, compute())
            return getattr(self, name)


def photo_key(photo: np.ndarray, face: int, *settings: object) -> str:
    """The key of a photo's state: its pixels (and shape), the face, and ``settings`` (what
    else changes the per-photo work, see the module docstring)."""
    return _pixels_key("photo state", photo, face, *settings)


def _pixels_key(kind: str, photo: np.ndarray, *parts: object) -> str:
    """A key from ``photo``'s pixels (and shape and type) and ``parts``."""
    photo = np.ascontiguousarray(photo)
    return cache_key(kind, photo.tobytes(), photo.shape, photo.dtype.str, *parts)


class FoundFaces:
    """The faces found in the last ``max_photos`` photos (by their pixels) and the crops aligned
    from them. The detector and the landmark file are fixed (the pinned file), so the pixels
    decide. Crops are shared read-only."""

    def __init__(self, max_photos: int = FOUND_PHOTOS):
        self.max_photos = max_photos
        self._photos: OrderedDict[str, tuple[list[DetectedFace], dict[int, AlignedFace]]] = OrderedDict()
        self._lock = threading.Lock()

    def faces(self, photo: np.ndarray) -> list[DetectedFace]:
        """Every face in ``photo`` (H, W, 3) uint8, largest first (:func:`~hairedit.face.detect.detect_faces`)."""
        return self._entry(photo)[0]

    def aligned(self, photo: np.ndarray, face: int, name: str = "the photo") -> tuple[list[DetectedFace], AlignedFace]:
        """The faces in ``photo`` and face ``face`` aligned; a face that cannot be used raises
        as :func:`~hairedit.face.detect.choose_face` does."""
        faces, crops = self._entry(photo)
        if face not in crops:
            aligned = align_face(photo, choose_face(faces, face, name), CROP_SIZE_PX)
            aligned.crop.flags.writeable = False
            crops[face] = aligned
        return faces, crops[face]

    def _entry(self, photo: np.ndarray) -> tuple[list[DetectedFace], dict[int, AlignedFace]]:
        key = _pixels_key("found faces", photo)
        with self._lock:
            entry = self._photos.get(key)
            if entry is not None:
                self._photos.move_to_end(key)
                return entry
        entry = (detect_faces(photo), {})  # outside the lock: seconds for a large photo
        with self._lock:
            entry = self._photos.setdefault(key, entry)
            while len(self._photos) > self.max_photos:
                self._photos.popitem(last=False)
        return entry


class PhotoCache:
    """Photo states by key, least recently used dropped first past ``max_bytes`` (0: none
    kept); and, whatever ``max_bytes``, the faces found in the last photos (``found``)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.found = FoundFaces()
        self._states: OrderedDict[str, PhotoState] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: str) -> PhotoState | None:
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
            return state

    def put(self, key: str, state: PhotoState) -> None:
        with self._lock:
            self._states[key] = state
            self._states.move_to_end(key)
            self._evict()

    def grew(self) -> None:
        """An entry took on more (its bald proxy, the photo's hair): keep within the budget."""
        with self._lock:
            self._evict()

    def nbytes(self) -> int:
        with self._lock:
            return sum(state.nbytes() for state in self._states.values())

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
        self.found = FoundFaces()

    def _evict(self) -> None:
        total = sum(state.nbytes() for state in self._states.values())
        while self._states and total > self.max_bytes:
            _, dropped = self._states.popitem(last=False)
            total -= dropped.nbytes()
