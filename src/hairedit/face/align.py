"""FFHQ alignment, with the geometry of the official HairCLIPv2 / Barbershop align script, and
the exact map between photo and crop.

The crop is a square set by the eyes and the mouth. As in FFHQ: a face much larger than the
output is first shrunk (by a whole factor), the square is cut out with a border, reflect-padded
with a blur and a fade to the median colour where it leaves the photo, sampled at 4096 px and
downsized to ``size_px``. Here the region around the square is cut *before* shrinking, so a
huge photo is never resampled (or held in float) as a whole.

Coordinates: pixel centres at integers, x right, y down; photo coordinates are those of the
photo as displayed (EXIF orientation applied). The square is a rotated, scaled copy of the crop,
so crop <-> photo is a similarity transform, held by :class:`CropTransform`. The quad is carried
through every resampling step with that same pixel-centre convention, so the transform says
where each crop pixel really came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from .detect import DetectedFace

CROP_SIZE_PX = 1024  # the FFHQ crop every edit works on
TRANSFORM_SIZE_PX = 4096  # the official intermediate: sample the quad at 4096, then downsize


@dataclass
class CropTransform:
    """The affine map between crop pixels (u, v) and photo pixels (x, y).

    crop_to_photo: (2, 3) matrix, [x, y] = M[:, :2] @ [u, v] + M[:, 2].
    size_px: side of the crop; photo_size: (width, height) of the photo.
    """

    crop_to_photo: np.ndarray
    size_px: int
    photo_size: tuple[int, int]

    @property
    def photo_to_crop(self) -> np.ndarray:
        """(2, 3) inverse of ``crop_to_photo``."""
        return np.linalg.inv(np.vstack([self.crop_to_photo, [0.0, 0.0, 1.0]]))[:2]

    @property
    def photo_px_per_crop_px(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.crop_to_photo[:, :2]))))

    @property
    def quad(self) -> np.ndarray:
        """(4, 2) photo coordinates of the crop's outer corners: top-left, bottom-left, bottom-right, top-right."""
        edge = self.size_px - 0.5
        return self.to_photo(np.array([[-0.5, -0.5], [-0.5, edge], [edge, edge], [edge, -0.5]]))

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop pixels -> (N, 2) photo pixels."""
        return np.asarray(points, dtype=np.float64) @ self.crop_to_photo[:, :2].T + self.crop_to_photo[:, 2]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixels -> (N, 2) crop pixels."""
        inverse = self.photo_to_crop
        return np.asarray(points, dtype=np.float64) @ inverse[:, :2].T + inverse[:, 2]

    def for_size(self, size_px: int) -> CropTransform:
        """The same square resampled to ``size_px``: crop pixel u there is (u + 0.5) * s - 0.5 here."""
        scale = self.size_px / size_px
        linear = self.crop_to_photo[:, :2] * scale
        offset = self.to_photo(np.full((1, 2), (scale - 1) / 2))[0]
        return CropTransform(np.column_stack([linear, offset]), size_px, self.photo_size)

    def to_json(self) -> dict:
        return {
            "crop_to_photo": self.crop_to_photo.tolist(),
            "photo_to_crop": self.photo_to_crop.tolist(),
            "crop_size_px": self.size_px,
            "photo_size": list(self.photo_size),
            "quad": self.quad.tolist(),
        }

    @classmethod
    def from_json(cls, record: dict) -> CropTransform:
        matrix = np.array(record["crop_to_photo"], dtype=np.float64)
        return cls(matrix, int(record["crop_size_px"]), tuple(int(side) for side in record["photo_size"]))


@dataclass
class AlignedFace:
    """crop: (size_px, size_px, 3) uint8 RGB; transform: crop <-> photo; face: the detection it came from."""

    crop: np.ndarray
    transform: CropTransform
    face: DetectedFace


def ffhq_quad(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """The FFHQ square of 68 landmarks (68, 2): corners (4, 2) top-left, bottom-left, bottom-right,
    top-right, and its side length, both in the landmarks' pixels.

    Centred a tenth of the way from the eyes to the mouth; half a side is the larger of twice the
    eye distance and 1.8 eye-to-mouth distances; turned so the eyes lie level.
    """
    eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    eyes = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (landmarks[48] + landmarks[54]) / 2 - eyes
    # "Right" blends the eye line with the eye-to-mouth line turned a quarter (x, y) -> (y, -x).
    right = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    half_side = max(2.0 * np.linalg.norm(eye_to_eye), 1.8 * np.linalg.norm(eye_to_mouth))
    right *= half_side / np.linalg.norm(right)
    down = np.array([-right[1], right[0]])
    centre = eyes + 0.1 * eye_to_mouth
    quad = np.stack([centre - right - down, centre - right + down, centre + right + down, centre + right - down])
    return quad, 2.0 * half_side


def crop_transform(quad: np.ndarray, size_px: int, photo_size: tuple[int, int]) -> CropTransform:
    """The transform of a crop sampled from ``quad`` (4, 2) the official way.

    Pillow's QUAD transform sends output position (u + 0.5) / T along the quad's edges, and the
    official code hands it the quad shifted by +0.5, i.e. with its corners at pixel centres;
    the Lanczos downsizing keeps centres: crop pixel u covers (u + 0.5) / size_px of the side.
    """
    top_left, bottom_left, _, top_right = np.asarray(quad, dtype=np.float64)
    across = (top_right - top_left) / size_px
    down = (bottom_left - top_left) / size_px
    first_centre = top_left + 0.5 * (across + down)
    return CropTransform(np.column_stack([across, down, first_centre]), size_px, photo_size)


def align_face(photo: np.ndarray, face: DetectedFace, size_px: int = CROP_SIZE_PX) -> AlignedFace:
    """The FFHQ crop (size_px, size_px, 3) uint8 of ``face`` in ``photo`` (H, W, 3) uint8 RGB."""
    quad, side = ffhq_quad(face.landmarks)
    transform = crop_transform(quad, size_px, (photo.shape[1], photo.shape[0]))

    shrink = max(int(np.floor(side / size_px * 0.5)), 1)  # only faces over twice the output shrink
    # The official border, in the shrunk image's pixels, expressed in photo pixels here.
    border = max(int(np.rint(side / shrink * 0.1)), 3)
    region, quad = _cut_region(photo, quad, border * shrink)
    if shrink > 1:
        region, quad = _shrink(region, quad, shrink)
    region, quad = _pad_where_outside(region, quad, side / shrink, border)
    sampled = region.transform(
        (TRANSFORM_SIZE_PX, TRANSFORM_SIZE_PX), Image.QUAD, (quad + 0.5).flatten(), Image.BILINEAR
    )
    if size_px != TRANSFORM_SIZE_PX:
        sampled = sampled.resize((size_px, size_px), Image.LANCZOS)
    return AlignedFace(np.asarray(sampled), transform, face)


def _cut_region(photo: np.ndarray, quad: np.ndarray, border: int) -> tuple[Image.Image, np.ndarray]:
    """The photo around the quad's bounding box plus ``border``, clipped to the photo, and the quad in it."""
    height, width = photo.shape[:2]
    left = max(int(np.floor(quad[:, 0].min())) - border, 0)
    top = max(int(np.floor(quad[:, 1].min())) - border, 0)
    right = min(int(np.ceil(quad[:, 0].max())) + border, width)
    bottom = min(int(np.ceil(quad[:, 1].max())) + border, height)
    if right <= left or bottom <= top:
        raise InputError(f"the face's landmarks lie outside the {width}x{height} photo; detect the face in this photo.")
    region = Image.fromarray(np.ascontiguousarray(photo[top:bottom, left:right]))
    return region, quad - (left, top)


def _shrink(region: Image.Image, quad: np.ndarray, shrink: int) -> tuple[Image.Image, np.ndarray]:
    """Lanczos-shrink by ``shrink``; the quad follows the actual per-axis scale, pixel centres kept."""
    width, height = region.size
    small_size = (max(int(np.rint(width / shrink)), 1), max(int(np.rint(height / shrink)), 1))
    scale = np.array(small_size, dtype=np.float64) / (width, height)
    return region.resize(small_size, Image.LANCZOS), (quad + 0.5) * scale - 0.5


def _pad_where_outside(
    region: Image.Image, quad: np.ndarray, side: float, border: int
) -> tuple[Image.Image, np.ndarray]:
    """Where the quad (plus border) leaves the image: reflect-pad, blur the padding and fade it to
    the median colour, as FFHQ does, so the crop has no hard edge or mirrored face there."""
    width, height = region.size
    overhang = (
        max(border - int(np.floor(quad[:, 0].min())), 0),
        max(border - int(np.floor(quad[:, 1].min())), 0),
        max(int(np.ceil(quad[:, 0].max())) - width + border, 0),
        max(int(np.ceil(quad[:, 1].max())) - height + border, 0),
    )
    if max(overhang) <= border - 4:
        return region, quad
    left, top, right, bottom = np.maximum(overhang, int(np.rint(side * 0.3)))
    padded = np.pad(np.asarray(region, dtype=np.float32), ((top, bottom), (left, right), (0, 0)), mode="reflect")
    padded_height, padded_width = padded.shape[:2]

    # How far each pixel lies past the photo's edge, in units of that side's padding (<= 0 inside).
    columns = np.arange(padded_width, dtype=np.float32)
    rows = np.arange(padded_height, dtype=np.float32)
    past_x = np.maximum((left - columns) / left, (columns - (padded_width - 1 - right)) / right)
    past_y = np.maximum((top - rows) / top, (rows - (padded_height - 1 - bottom)) / bottom)
    past = np.maximum(past_y[:, None], past_x[None, :])[..., None]

    # The blur reaches a third of a padding width into the photo, so the edge itself is soft.
    # (In-place arithmetic: these arrays are tens of megapixels for a large face.)
    change = _gaussian_blur(padded, side * 0.02)
    change -= padded
    change *= np.clip(3.0 * past + 1.0, 0.0, 1.0)
    padded += change
    change = np.subtract(np.median(padded, axis=(0, 1)), padded, out=change)
    change *= np.clip(past, 0.0, 1.0)
    padded += change
    np.rint(padded, out=padded)
    padded_image = Image.fromarray(np.clip(padded, 0, 255).astype(np.uint8), "RGB")
    return padded_image, quad + (left, top)


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (H, W, 3) float32 with reflected edges (scipy.ndimage's "reflect").

    A blur wider than 8 px is computed on a copy reduced by sigma / 4 and enlarged back: within
    about a grey level of the direct blur, and 100x faster for the 60 px blur of a 3000 px face.
    """
    factor = int(sigma // 4)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    height, width = image.shape[:2]
    reduced = cv2.resize(image, (-(-width // factor), -(-height // factor)), interpolation=cv2.INTER_AREA)
    # Averaging blocks of `factor` pixels already blurs by about factor / 2: take that off.
    reduced_sigma = np.sqrt(sigma**2 - factor**2 / 4) / factor
    reduced = cv2.GaussianBlur(reduced, (0, 0), reduced_sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(reduced, (width, height), interpolation=cv2.INTER_LINEAR)


def edit_order(transforms: list[CropTransform]) -> list[int]:
    """The order in which to edit several faces, given their crops (largest crop first in the list).

    Largest first, except that a face whose crop overlaps a smaller face's crop waits for that
    face: the smaller face (usually further back) is edited first, and the larger, nearer
    face's edit, pasted onto that result, stays whole where the two overlap (as the nearer
    face's hair is in front of the other face). Returns indices into ``transforms``.
    """
    pending = list(range(len(transforms)))
    quads = [transform.quad.astype(np.float32) for transform in transforms]
    areas = [cv2.contourArea(quad) for quad in quads]
    order = []
    while pending:
        for index in pending:
            waits = any(
                other != index and areas[other] < areas[index] and _overlap(quads[index], quads[other])
                for other in pending
            )
            if not waits:
                break
        order.append(index)
        pending.remove(index)
    return order


def _overlap(quad: np.ndarray, other: np.ndarray) -> bool:
    area, _ = cv2.intersectConvexConvex(quad, other)
    return area > 0
