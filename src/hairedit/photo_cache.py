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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .cache import cache_key
from .face.align import AlignedFace
from .face.detect import DetectedFace
from .stages.inversion import Inversion

DEFAULT_MAX_BYTES = 256 * 2**20


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
    photo = np.ascontiguousarray(photo)
    return cache_key("photo state", photo.tobytes(), photo.shape, photo.dtype.str, face, *settings)


class PhotoCache:
    """Photo states by key, least recently used dropped first past ``max_bytes`` (0: none kept)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
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

    def _evict(self) -> None:
        total = sum(state.nbytes() for state in self._states.values())
        while self._states and total > self.max_bytes:
            _, dropped = self._states.popitem(last=False)
            total -= dropped.nbytes()
