"""Finding faces: the right ones, largest first, in photos of any size; clear errors otherwise."""

import importlib.metadata

import cv2
import dlib
import numpy as np
import pytest
from skimage import data

from hairedit.errors import CheckpointError, FaceNotFoundError, InputError, MissingWeightsError
from hairedit.face import detect
from hairedit.face.detect import MIN_EYE_DISTANCE_PX, choose_face, detect_faces, predictor_path
from hairedit.face.dlib_pyramid import box_in_photo, lround
from tests.real_photos import enlarged


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    return faces[0]


def test_the_astronaut_is_one_face_and_her_suit_is_not(astronaut_face):
    # At the official upsample of 1 dlib also reports the suit (score 0.12); weak detections
    # are dropped when a confident face is there.
    left, top, right, bottom = astronaut_face.box
    assert 150 < left < 200 and 60 < top < 100 and 240 < right < 290 and 140 < bottom < 190
    assert astronaut_face.score > 1.0
    assert astronaut_face.landmarks.shape == (68, 2)
    inside = (astronaut_face.landmarks >= (left - 10, top - 10)) & (astronaut_face.landmarks <= (right + 10, bottom + 15))
    assert inside.all()
    # dlib's order: the left eye (36-41) is left of the right eye (42-47), both above the mouth (48-67).
    assert astronaut_face.landmarks[36:42, 0].mean() < astronaut_face.landmarks[42:48, 0].mean()
    assert astronaut_face.landmarks[36:48, 1].mean() < astronaut_face.landmarks[48:68, 1].min()
    assert 35 < astronaut_face.eye_distance_px < 55


def test_several_faces_are_listed_largest_first_and_chosen_by_index(astronaut):
    smaller = np.zeros_like(astronaut)
    smaller[:384, :384] = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    group = np.ascontiguousarray(np.concatenate([smaller, astronaut], axis=1))  # the larger face on the right
    faces = detect_faces(group)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[0] > 512 and faces[1].box[2] < 512
    assert choose_face(faces) is faces[0]
    assert choose_face(faces, 1) is faces[1]
    with pytest.raises(InputError, match=r"2 face\(s\); --face must be 0..1"):
        choose_face(faces, 2)


def test_a_photo_without_a_face_says_so():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8), (0, 0), 3)
    faces = detect_faces(texture)
    assert faces == []
    with pytest.raises(FaceNotFoundError, match="no face found in street.jpg"):
        choose_face(faces, 0, "street.jpg")


def test_a_face_too_small_to_edit_is_refused_with_its_size(astronaut):
    small = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)  # ~25 px between the eyes
    faces = detect_faces(small)
    assert len(faces) == 1 and faces[0].eye_distance_px < MIN_EYE_DISTANCE_PX
    with pytest.raises(InputError, match=rf"too small to edit well: \d+ px between the eyes, at least {MIN_EYE_DISTANCE_PX}"):
        choose_face(faces)


def test_a_large_photo_gets_the_boxes_of_a_full_resolution_search(astronaut, astronaut_face):
    # The official align script searches the whole photo at upsample 1; hairedit searches a
    # reduced copy, then one level of the official pyramid: the boxes and scores must be the
    # official run's, to the pixel, since the landmarks depend on the box.
    big = enlarged(astronaut, 2250, 3000)  # stretched: 4.4 x 5.9
    faces = detect_faces(big)
    boxes, scores, _ = dlib.get_frontal_face_detector().run(big, 1, 0.0)
    official = {(box.left(), box.top(), box.right(), box.bottom()): score for box, score in zip(boxes, scores)}
    assert len(faces) == 1 and official[faces[0].box] == faces[0].score
    scale = np.array([2250 / 512, 3000 / 512])
    # Landmarks come from the full-resolution photo: they match the small photo's, scaled up.
    error = np.linalg.norm(faces[0].landmarks / scale - astronaut_face.landmarks, axis=1)
    assert np.median(error) < 1.5


def test_boxes_map_back_from_the_pyramid_level_where_dlib_rounds():
    assert [lround(value) for value in (2.5, -2.5, 1.4999999999999998, 7.5)] == [3, -3, 1, 8]
    # A level-0 box (5, 5, 77, 77) of level 2: up two levels (p * 1.2 + 0.3 twice) 7.86 and
    # 111.54, rounded 8 and 112, halved less (1.25, 0.75): (2.75, 3.25, 54.75, 55.25).
    assert box_in_photo((5, 5, 77, 77), 2) == (3, 3, 55, 55)
    # A box the detector reports 3 levels down the scanned level 0: its own box (13, 13, 85, 85).
    assert box_in_photo((24, 24, 148, 148), 0) == (11, 11, 73, 73)
    with pytest.raises(ValueError, match="not a box of dlib's HOG detector"):
        box_in_photo((0, 0, 72, 72), 0)


def test_the_predictor_comes_from_the_weights_folder_or_the_package(tmp_path, monkeypatch):
    shipped = predictor_path()
    assert shipped.name == detect.PREDICTOR_NAME and shipped.stat().st_size == 99_693_937
    (tmp_path / detect.PREDICTOR_NAME).write_bytes(b"not a predictor")
    with pytest.raises(CheckpointError, match="does not match its pinned checksum"):
        predictor_path(tmp_path)
    with pytest.raises(CheckpointError, match="not a dlib shape predictor"):
        detect.load_predictor(str(tmp_path / detect.PREDICTOR_NAME))

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(MissingWeightsError, match="hairedit weights download"):
        predictor_path(tmp_path / "empty")
