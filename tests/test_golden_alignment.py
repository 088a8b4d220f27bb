"""Faces and FFHQ crops equal the official alignment's on real photos of every size.

tests/golden/ffhq_alignment.json holds what HairCLIPv2's ``utils/shape_predictor.py`` (dlib's
detector with upsample 1 on the full-resolution photo, the 68-point predictor in each box, the
FFHQ crop) computed on these photos: boxes, landmarks, the crop's quad and the crop reduced to
32 px. docs/golden.md says how. The 18-megapixel photos are the case where searching a reduced
copy alone gave other boxes, hence other landmarks and a crop several pixels off.
"""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit.face.align import align_face, crop_transform, ffhq_quad
from hairedit.face.detect import MIN_EYE_DISTANCE_PX, WEAK_SCORE, detect_faces
from tests import real_photos

GOLDEN = json.loads((Path(__file__).parent / "golden" / "ffhq_alignment.json").read_text())

PHOTOS = {
    "astronaut": lambda: np.ascontiguousarray(data.astronaut()),
    "group": real_photos.group_photo,
    "astronaut_portrait_3476x5214": lambda: real_photos.enlarged(real_photos.astronaut_portrait(), 3476, 5214),
    "group_5120x3544": lambda: real_photos.enlarged(real_photos.group_photo(), 5120, 3544),
}


def _eye_distance(landmarks) -> float:
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(landmarks[42:48].mean(0) - landmarks[36:42].mean(0)))


def _corner_error_px(transform, official_quad) -> float:
    """How far the crop's corners lie from the official crop's, in pixels of the 1024 px crop."""
    return float(np.abs(transform.quad - np.asarray(official_quad)).max() / transform.photo_px_per_crop_px)


@pytest.mark.parametrize("name", list(PHOTOS))
def test_faces_and_crops_equal_the_official_alignment(name):
    golden = GOLDEN[name]
    photo = PHOTOS[name]()
    assert real_photos.pixels_sha256(photo) == golden["pixels_sha256"], "not the photo the golden values came from"
    official = {tuple(face["box"]): face for face in golden["faces"]}
    faces = detect_faces(photo)

    # Every face the official script finds that is confident and large enough to edit is found,
    # in its box, with its score (hairedit drops weak detections when stronger ones exist).
    editable = {
        box
        for box, face in official.items()
        if face["score"] >= WEAK_SCORE and _eye_distance(face["landmarks"]) >= MIN_EYE_DISTANCE_PX
    }
    assert editable and editable <= {face.box for face in faces}
    for face in faces:
        expected = official[face.box]
        assert face.score == expected["score"]
        # Same box, so the predictor gives the same landmarks, to the pixel (dlib's are integers).
        np.testing.assert_array_equal(face.landmarks, expected["landmarks"])
        # The crop's corners are the official ones (the requirement is 1 px; equal landmarks
        # leave only float rounding).
        transform = crop_transform(ffhq_quad(face.landmarks)[0], 1024, (photo.shape[1], photo.shape[0]))
        assert _corner_error_px(transform, expected["quad"]) < 1e-6

    # And the pixels, of the largest face (each crop costs a second): it is not shrunk, so the
    # crop is the official crop's bytes.
    aligned = align_face(photo, faces[0])
    assert _corner_error_px(aligned.transform, official[faces[0].box]["quad"]) < 1e-6
    reduced = np.asarray(Image.fromarray(aligned.crop).resize((32, 32), Image.BOX))
    expected_pixels = base64.b64decode(official[faces[0].box]["crop_32px_base64"])
    np.testing.assert_array_equal(reduced, np.frombuffer(expected_pixels, np.uint8).reshape(32, 32, 3))
