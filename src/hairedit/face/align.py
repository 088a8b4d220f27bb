"""FFHQ alignment (the geometry of the official HairCLIPv2 / Barbershop align script) and
the exact map between photo and crop.

The crop is a square oriented by the eyes and mouth. As in FFHQ: the photo is shrunk when
the face is much larger than the output, cropped with a border, reflect-padded with a
blur where the square leaves the photo, then sampled through the quad at 4096 px and
downsized to ``size_px``. Because the quad is a rotated square, crop <-> photo is a
similarity transform: :class:`CropTransform` holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
from PIL import Image

from .detect import DetectedFace

TRANSFORM_SIZE_PX = 4096


@dataclass
class CropTransform:
    """Affine maps between crop pixels (u, v) and photo pixels (x, y), as 2x3 matrices."""

    crop_to_photo: np.ndarray  # (2, 3)
    size_px: int  # side of the crop
    photo_size: tuple[int, int]  # (width, height)

    @property
    def photo_to_crop(self) -> np.ndarray:
        full = np.vstack([self.crop_to_photo, [0, 0, 1]])
        return np.linalg.inv(full)[:2]

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return points @ self.crop_to_photo[:, :2].T + self.crop_to_photo[:, 2]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        matrix = self.photo_to_crop
        return points @ matrix[:, :2].T + matrix[:, 2]

    def to_json(self) -> dict:
        return {
            "crop_to_photo": self.crop_to_photo.tolist(),
            "photo_to_crop": self.photo_to_crop.tolist(),
            "crop_size_px": self.size_px,
            "photo_size": list(self.photo_size),
        }

    @classmethod
    def from_json(cls, data: dict) -> CropTransform:
        return cls(np.array(data["crop_to_photo"], dtype=np.float64), int(data["crop_size_px"]), tuple(data["photo_size"]))


@dataclass
class AlignedFace:
    crop: np.ndarray  # (size_px, size_px, 3) uint8
    transform: CropTransform
    face: DetectedFace


def ffhq_quad(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """The FFHQ crop square for 68 landmarks: corners (4, 2) (top-left, bottom-left,
    bottom-right, top-right) and its side length."""
    eye_left = landmarks[36:42].mean(0)
    eye_right = landmarks[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (landmarks[48] + landmarks[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    centre = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])
    return quad, float(np.hypot(*x) * 2)


def crop_transform(quad: np.ndarray, size_px: int, photo_size: tuple[int, int]) -> CropTransform:
    """Photo pixel centres of the crop's pixel centres: PIL's QUAD sampling, then the resize."""
    top_left, bottom_left, _, top_right = quad
    # PIL QUAD maps output pixel (u, v) of a T px square to quad point
    # top_left + (u / T) * (top_right - top_left) + (v / T) * (bottom_left - top_left), with pixel
    # centres at +0.5 on both sides (the official code passes quad + 0.5).
    across = (top_right - top_left) / size_px
    down = (bottom_left - top_left) / size_px
    origin = top_left + 0.5 * across + 0.5 * down
    matrix = np.array([[across[0], down[0], origin[0]], [across[1], down[1], origin[1]]], dtype=np.float64)
    return CropTransform(matrix, size_px, photo_size)


def align_face(photo: np.ndarray, face: DetectedFace, size_px: int = 1024) -> AlignedFace:
    """The FFHQ crop (size_px, size_px, 3) uint8 of ``face`` in ``photo`` (H, W, 3) uint8."""
    quad, qsize = ffhq_quad(face.landmarks)
    transform = crop_transform(quad.copy(), size_px, (photo.shape[1], photo.shape[0]))
    image = Image.fromarray(photo)
    quad = quad.copy()

    shrink = int(np.floor(qsize / size_px * 0.5))
    # The official script shrinks the whole photo, then crops; cropping the same region
    # first keeps huge photos cheap.
    crop = _crop_box(quad, max(int(np.rint(qsize * 0.1)), 3), image.size)
    if crop[2] - crop[0] < image.size[0] or crop[3] - crop[1] < image.size[1]:
        image = image.crop(crop)
        quad -= crop[:2]
    if shrink > 1:
        image = image.resize(
            (int(np.rint(image.size[0] / shrink)), int(np.rint(image.size[1] / shrink))), Image.LANCZOS
        )
        quad /= shrink
        qsize /= shrink
    image, quad = _pad_reflect(image, quad, qsize, max(int(np.rint(qsize * 0.1)), 3))
    image = image.transform(
        (TRANSFORM_SIZE_PX, TRANSFORM_SIZE_PX), Image.QUAD, (quad + 0.5).flatten(), Image.BILINEAR
    )
    if size_px < TRANSFORM_SIZE_PX:
        image = image.resize((size_px, size_px), Image.LANCZOS)
    return AlignedFace(np.asarray(image), transform, face)


def _crop_box(quad: np.ndarray, border: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    box = (
        int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())),
        int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max())),
    )
    return (max(box[0] - border, 0), max(box[1] - border, 0), min(box[2] + border, size[0]), min(box[3] + border, size[1]))


def _pad_reflect(image: Image.Image, quad: np.ndarray, qsize: float, border: int) -> tuple[Image.Image, np.ndarray]:
    """Where the square leaves the photo: reflect-pad, blur and fade towards the median colour."""
    width, height = image.size
    pad = (
        max(-int(np.floor(quad[:, 0].min())) + border, 0),
        max(-int(np.floor(quad[:, 1].min())) + border, 0),
        max(int(np.ceil(quad[:, 0].max())) - width + border, 0),
        max(int(np.ceil(quad[:, 1].max())) - height + border, 0),
    )
    if max(pad) <= border - 4:
        return image, quad
    pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
    array = np.pad(np.float32(image), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
    h, w, _ = array.shape
    y, x, _ = np.ogrid[:h, :w, :1]
    mask = np.maximum(
        1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
        1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]),
    )
    blur = qsize * 0.02
    array += (scipy.ndimage.gaussian_filter(array, [blur, blur, 0]) - array) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    array += (np.median(array, axis=(0, 1)) - array) * np.clip(mask, 0.0, 1.0)
    image = Image.fromarray(np.uint8(np.clip(np.rint(array), 0, 255)), "RGB")
    return image, quad + pad[:2]
