"""Face detection (dlib's HOG detector) and 68 landmarks (dlib's shape predictor), giving
exactly the boxes and landmarks of the official align script on photos of any size.

The official script runs the detector with upsample 1 on the full-resolution photo and the
shape predictor in each box; the landmarks depend on the box, so the box must be the same.
On a large photo that run is slow (5 s for 18 megapixels), nearly all of it spent on the
first, largest pyramid levels, which look for faces far smaller than the photo's. So: faces
are first found on a copy at most ``DETECT_MAX_PX`` on its long side; then the detector runs
on the official pyramid's level a few steps above the smallest face found, which gives the
official boxes and scores for every face from somewhat below that size up (see
:mod:`.dlib_pyramid`); the landmarks are fitted on the full-resolution photo.

The detector is upsampled once, as in the official align script, to find faces down to
about 40 px. At that setting it also fires on face-like texture (the suit in
``skimage.data.astronaut()`` scores 0.12), so detections scoring below ``WEAK_SCORE`` are
kept only when nothing scores higher: a genuine but hard face is still found on its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import CheckpointError, FaceNotFoundError, InputError
from ..weights.checks import checker
from .dlib_pyramid import box_in_photo, level_for_width, level_image

PREDICTOR_NAME = "shape_predictor_68_face_landmarks.dat"
DETECT_MAX_PX = 1600
UPSAMPLE = 1
WEAK_SCORE = 0.3
# Levels scanned below the level of the smallest face found on the reduced copy: windows down
# to 1.2**-6 = 1/3 of its size. So faces a little smaller than it are found too (the copy's
# box is within ~20% of the full photo's), and so is any smaller detection overlapping a face,
# which the official non-maximum suppression weighs against the face's own box.
LEVEL_MARGIN = 6
# Eye centres closer than this give an FFHQ square under ~135 px (the square is ~4.2 eye
# distances wide), blown up more than 7.5x to 1024 px: the inversion then mostly fits blur, and
# each pixel of landmark error shifts the square visibly.
MIN_EYE_DISTANCE_PX = 32


@dataclass
class DetectedFace:
    """A face in photo pixels (x right, y down, pixel centres at integers).

    box: (left, top, right, bottom); score: the detector's confidence (higher is surer, 0 is its
    threshold); landmarks: (68, 2) float64 x, y in dlib's 68-point order.
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def eye_distance_px(self) -> float:
        """Distance between the two eye centres (means of points 36-41 and 42-47)."""
        return float(np.linalg.norm(self.landmarks[42:48].mean(0) - self.landmarks[36:42].mean(0)))

    def to_json(self) -> dict:
        return {"box": list(self.box), "score": round(self.score, 4), "landmarks": self.landmarks.round(2).tolist()}


def predictor_path(weights_dir: str | Path | None = None) -> Path:
    """The dlib predictor file, checked against its pinned sha256: in the weights folder if put
    there, else inside the installed ``face_recognition_models`` package."""
    from ..weights.download import ensure

    return ensure(PREDICTOR_NAME, weights_dir, download=False)


@functools.lru_cache(maxsize=2)
def load_predictor(path: str | Path):
    import dlib

    try:
        return dlib.shape_predictor(str(path))
    except RuntimeError as error:
        raise CheckpointError(f"{path} is not a dlib shape predictor ({error}).") from error


@functools.lru_cache(maxsize=1)
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


def detect_faces(photo: np.ndarray, predictor_file: str | Path | None = None) -> list[DetectedFace]:
    """Every face in ``photo`` (H, W, 3) uint8 RGB, largest box first. May be empty."""
    import dlib

    photo = np.ascontiguousarray(photo)
    detections = _official_detections(photo)
    if any(score >= WEAK_SCORE for _, score in detections):
        detections = [(box, score) for box, score in detections if score >= WEAK_SCORE]
    predictor = load_predictor(str(predictor_file or predictor_path()))
    faces = []
    for box, score in detections:
        shape = predictor(photo, dlib.rectangle(*box))
        landmarks = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)
        faces.append(DetectedFace(box, float(score), landmarks))
    return sorted(faces, key=lambda face: face.area, reverse=True)


def _official_detections(photo: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """(box, score) of each face the official run (upsample 1, whole photo) reports, down to
    somewhat below the smallest face a copy of at most DETECT_MAX_PX shows."""
    if max(photo.shape[:2]) <= DETECT_MAX_PX:
        return _run_detector(photo, UPSAMPLE)
    small, scale = _detection_copy(photo)
    found = _run_detector(small, UPSAMPLE)
    if any(score >= WEAK_SCORE for _, score in found):
        found = [(box, score) for box, score in found if score >= WEAK_SCORE]
    if not found:
        return []
    smallest_px = min(box[2] - box[0] + 1 for box, _ in found) / scale
    first_level = max(level_for_width(smallest_px) - LEVEL_MARGIN, 0)
    return [(box_in_photo(box, first_level), score) for box, score in _run_detector(level_image(photo, first_level), 0)]


def _run_detector(image: np.ndarray, upsample: int) -> list[tuple[tuple[int, int, int, int], float]]:
    boxes, scores, _ = _detector().run(image, upsample, 0.0)
    return [((box.left(), box.top(), box.right(), box.bottom()), float(score)) for box, score in zip(boxes, scores)]


def _detection_copy(photo: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo shrunk to at most DETECT_MAX_PX on its long side, and the scale used."""
    height, width = photo.shape[:2]
    scale = min(1.0, DETECT_MAX_PX / max(height, width))
    if scale == 1.0:
        return photo, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA), scale


def choose_face(faces: list[DetectedFace], index: int = 0, source: str = "the photo") -> DetectedFace:
    """Face ``index`` of ``faces`` (0 = largest), checked to be large enough to edit well.

    Raises FaceNotFoundError when there is no face, InputError for a bad index or a small face.
    """
    if not faces:
        raise FaceNotFoundError(
            f"no face found in {source}. Use a photo with a clearly visible, roughly frontal face, "
            f"at least {MIN_EYE_DISTANCE_PX} px between the eyes."
        )
    if not 0 <= index < len(faces):
        raise InputError(f"{source} has {len(faces)} face(s); --face must be 0..{len(faces) - 1}. Got {index}")
    face = faces[index]
    if face.eye_distance_px < MIN_EYE_DISTANCE_PX:
        raise InputError(
            f"face {index} in {source} is too small to edit well: {face.eye_distance_px:.0f} px between the eyes, "
            f"at least {MIN_EYE_DISTANCE_PX} px are needed. Use a closer or higher-resolution photo."
        )
    return face


@checker(PREDICTOR_NAME)
def check_predictor_file(path: Path) -> str:
    load_predictor(str(path))
    return "dlib 68 landmarks"
