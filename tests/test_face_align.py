"""FFHQ alignment: the crop has FFHQ's geometry, and its transform says exactly where each crop
pixel came from, for small, huge and edge-of-photo faces."""

import json
import tracemalloc

import cv2
import numpy as np
import pytest
from skimage import data

from hairedit.face.align import CropTransform, align_face, ffhq_quad
from hairedit.face.detect import DetectedFace, choose_face, detect_faces


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def aligned(astronaut):
    return align_face(astronaut, choose_face(detect_faces(astronaut)))


def _eyes_and_mouth(landmarks):
    eyes = (landmarks[36:42].mean(0) + landmarks[42:48].mean(0)) / 2
    return eyes, landmarks[42:48].mean(0) - landmarks[36:42].mean(0), (landmarks[48] + landmarks[54]) / 2 - eyes


def test_landmarks_found_in_the_crop_sit_at_the_canonical_ffhq_positions(aligned):
    # FFHQ's square is centred at eyes + 0.1 (mouth - eyes), half a side is max(2 eye distances,
    # 1.8 eye-to-mouth distances), the side is 1024 px and the eye line is turned level. So in
    # the crop: that centre is the crop's centre (511.5, 511.5), the larger of eye distance / 256
    # and eye-to-mouth / (512 / 1.8) is 1, and the "right" direction of the square is horizontal.
    faces = detect_faces(aligned.crop)
    assert len(faces) == 1
    eyes, eye_to_eye, eye_to_mouth = _eyes_and_mouth(faces[0].landmarks)
    np.testing.assert_allclose(eyes + 0.1 * eye_to_mouth, [511.5, 511.5], atol=4)
    scale = max(np.linalg.norm(eye_to_eye) / 256, np.linalg.norm(eye_to_mouth) / (512 / 1.8))
    assert scale == pytest.approx(1.0, abs=0.02)
    right = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    assert abs(np.degrees(np.arctan2(right[1], right[0]))) < 1.0
    assert eye_to_mouth[1] > 0 and abs(eye_to_mouth[0]) < 6  # mouth straight below the eyes: upright


def test_transform_carries_the_photo_landmarks_onto_the_crop(aligned):
    in_crop = aligned.transform.to_crop(aligned.face.landmarks)
    np.testing.assert_allclose(aligned.transform.to_photo(in_crop), aligned.face.landmarks, atol=1e-9)
    redetected = detect_faces(aligned.crop)[0].landmarks
    # dlib's landmarks jitter by a pixel of the photo, ~6 px of this 5.7x enlarged crop.
    assert np.median(np.linalg.norm(redetected - in_crop, axis=1)) < 6


def test_transform_corners_are_the_ffhq_quad_and_survive_json(aligned):
    quad, side = ffhq_quad(aligned.face.landmarks)
    # The crop's outer corners are the FFHQ square's corners in the photo.
    np.testing.assert_allclose(aligned.transform.quad, quad, atol=1e-9)
    assert aligned.transform.photo_px_per_crop_px == pytest.approx(side / 1024)
    restored = CropTransform.from_json(json.loads(json.dumps(aligned.transform.to_json())))
    np.testing.assert_allclose(restored.crop_to_photo, aligned.transform.crop_to_photo)
    assert restored.size_px == 1024 and restored.photo_size == (512, 512)


def test_transform_for_another_crop_size_maps_the_same_points(aligned):
    small = aligned.transform.for_size(256)
    # Pixel 127.5 of a 256 crop and 511.5 of the 1024 crop are both the crop's centre; corners match too.
    np.testing.assert_allclose(small.to_photo([[127.5, 127.5]]), aligned.transform.to_photo([[511.5, 511.5]]))
    np.testing.assert_allclose(small.quad, aligned.transform.quad, atol=1e-9)
    np.testing.assert_allclose(small.for_size(1024).crop_to_photo, aligned.transform.crop_to_photo, atol=1e-9)


def _face_with(centre, eye_distance, angle):
    """Landmarks of an idealised face (only the points FFHQ alignment reads)."""
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = np.zeros((68, 2))
    for points, offset in [
        (slice(36, 42), [-0.5, 0.0]), (slice(42, 48), [0.5, 0.0]), (48, [-0.35, 1.1]), (54, [0.35, 1.1])
    ]:
        landmarks[points] = np.asarray(centre) + turn @ (np.array(offset) * eye_distance)
    return DetectedFace((0, 0, 1, 1), 1.0, landmarks)


def _dots_photo(size, dots, sigma):
    """(H, W, 3) uint8 black photo with small Gaussian dots at sub-pixel positions."""
    width, height = size
    photo = np.zeros((height, width), np.float32)
    reach = int(4 * sigma) + 1
    for x, y in dots:
        left, top = int(x) - reach, int(y) - reach
        rows, columns = np.mgrid[top : top + 2 * reach + 1, left : left + 2 * reach + 1]
        photo[top : top + 2 * reach + 1, left : left + 2 * reach + 1] += np.exp(
            -((columns - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2)
        )
    return np.repeat(np.uint8(np.clip(photo, 0, 1) * 255 + 0.5)[..., None], 3, axis=2)


def _centroid(image, near, radius):
    x, y = np.round(near).astype(int)
    window = image[y - radius : y + radius + 1, x - radius : x + radius + 1, 0].astype(float)
    rows, columns = np.mgrid[y - radius : y + radius + 1, x - radius : x + radius + 1]
    return np.array([(window * columns).sum(), (window * rows).sum()]) / window.sum()


@pytest.mark.parametrize(
    "photo_size, centre, eye_distance",
    [
        ((700, 600), (351.3, 290.7), 70),  # a small face: the crop enlarges it ~3.5x
        ((4600, 4300), (2301.4, 2150.2), 1100),  # a huge face: shrunk 2x first, then sampled
        ((620, 560), (150.2, 140.6), 90),  # near the corner: the square leaves the photo and is padded
    ],
)
def test_crop_pixels_come_from_where_the_transform_says(photo_size, centre, eye_distance):
    face = _face_with(centre, eye_distance, angle=0.25)
    _, side = ffhq_quad(face.landmarks)
    sigma = side / 80
    offsets = np.array([[0.0, 0.0], [0.3, 0.1], [-0.25, 0.3], [0.1, 0.32]]) * side
    dots = np.asarray(centre) + offsets
    aligned = align_face(_dots_photo(photo_size, dots, sigma), face)
    expected = aligned.transform.to_crop(dots)
    radius = int(4 * sigma / aligned.transform.photo_px_per_crop_px)
    found = np.array([_centroid(aligned.crop, point, radius) for point in expected])
    np.testing.assert_allclose(found, expected, atol=0.05)


def test_a_face_at_the_photo_edge_gets_a_soft_fill_not_black(astronaut):
    photo = np.ascontiguousarray(astronaut[70:, 150:])  # the FFHQ square now leaves the photo top and left
    aligned = align_face(photo, choose_face(detect_faces(photo)))
    rows, columns = np.mgrid[:1024, :1024]
    in_photo = aligned.transform.to_photo(np.stack([columns.ravel(), rows.ravel()], 1)).reshape(1024, 1024, 2)
    outside = (in_photo < -10).any(axis=2)  # well beyond the photo's top or left edge
    assert outside.mean() > 0.1
    fill = aligned.crop[outside].astype(float)
    assert fill.mean() > 30  # not black
    gradient = np.abs(np.diff(aligned.crop.astype(float), axis=1)).mean(axis=2)  # (1024, 1023)
    assert gradient[outside[:, 1:]].mean() < 0.5 * gradient[~outside[:, 1:]].mean()  # blurred, no mirrored detail


def test_a_huge_photo_aligns_like_the_small_one_without_copying_it(astronaut, aligned):
    big = cv2.resize(astronaut, (6000, 6000), interpolation=cv2.INTER_CUBIC)
    face = choose_face(detect_faces(big))
    tracemalloc.start()
    try:
        big_aligned = align_face(big, face)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * big.nbytes  # only the region round the face is cut, shrunk and padded
    # Same face, same square: the photo landmarks scale by 6000 / 512.
    np.testing.assert_allclose(big_aligned.transform.quad * 512 / 6000, aligned.transform.quad, atol=2.5)
    assert np.abs(big_aligned.crop.astype(float) - aligned.crop).mean() < 10


def test_faces_are_edited_largest_first_but_after_the_smaller_faces_their_crops_overlap():
    from hairedit.face.align import CropTransform, edit_order

    def square(left, top, side):
        return CropTransform(np.array([[side / 64, 0, left], [0, side / 64, top]]), 64, (1000, 1000))

    big, medium, small_behind_big, apart = square(100, 100, 300), square(600, 100, 200), square(350, 300, 100), square(600, 600, 80)
    assert edit_order([big, medium, small_behind_big, apart]) == [1, 2, 0, 3]
    assert edit_order([big, medium, apart]) == [0, 1, 2]
