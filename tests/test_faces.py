"""Photos as people take them: detection, FFHQ alignment, paste-back, awkward files."""

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit.cli import main
from hairedit.errors import FaceNotFoundError, InputError
from hairedit.face.align import align_face, ffhq_quad
from hairedit.face.detect import choose_face, detect_faces
from hairedit.face.paste import paste_back
from hairedit.imageio import load_photo, save_image


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def aligned(astronaut):
    return align_face(astronaut, choose_face(detect_faces(astronaut), 0))


def test_crop_has_ffhq_geometry(aligned):
    # Re-detect in the crop: eyes and mouth sit where the FFHQ quad puts them.
    faces = detect_faces(aligned.crop)
    assert len(faces) >= 1
    landmarks = faces[0].landmarks
    eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    eye_mid = (eye_left + eye_right) / 2
    # FFHQ crops: eyes level and centred; the FFHQ square of the crop's own landmarks is the crop.
    assert abs(eye_left[1] - eye_right[1]) < 6
    assert abs(eye_mid[0] - 512) < 8
    quad, _ = ffhq_quad(landmarks)
    np.testing.assert_allclose(quad, [[0, 0], [0, 1024], [1024, 1024], [1024, 0]], atol=16)


def test_transform_maps_photo_landmarks_to_the_crop(aligned):
    crop_points = aligned.transform.to_crop(aligned.face.landmarks)
    back = aligned.transform.to_photo(crop_points)
    np.testing.assert_allclose(back, aligned.face.landmarks, atol=1e-6)
    redetected = detect_faces(aligned.crop)[0].landmarks
    assert np.median(np.linalg.norm(redetected - crop_points, axis=1)) < 8


def test_unchanged_crop_pastes_back_to_the_same_photo(astronaut, aligned):
    region = np.zeros((1024, 1024), np.float32)
    region[100:600, 150:900] = 1
    out = paste_back(astronaut, aligned, aligned.crop, region)
    changed = np.any(out != astronaut, axis=2)
    assert out.shape == astronaut.shape
    inside = np.any(out != astronaut, axis=2) | changed
    mse = ((out.astype(float) - astronaut) ** 2)[inside].mean()
    assert 10 * np.log10(255**2 / mse) > 40


def test_a_local_change_changes_only_that_area(astronaut, aligned):
    edited = aligned.crop.copy()
    edited[100:300, 300:700] = (0, 255, 0)
    region = np.zeros((1024, 1024), np.float32)
    region[100:300, 300:700] = 1
    out = paste_back(astronaut, aligned, edited, region)
    changed = np.argwhere(np.any(out != astronaut, axis=2))
    photo_box = aligned.transform.to_photo(np.array([[300, 100], [700, 100], [300, 300], [700, 300]], float))
    margin = 16
    assert changed[:, 1].min() >= photo_box[:, 0].min() - margin and changed[:, 1].max() <= photo_box[:, 0].max() + margin
    assert changed[:, 0].min() >= photo_box[:, 1].min() - margin and changed[:, 0].max() <= photo_box[:, 1].max() + margin
    centre = aligned.transform.to_photo(np.array([[500.0, 200.0]]))[0].round().astype(int)
    assert out[centre[1], centre[0], 1] > 200 and out[centre[1], centre[0], 0] < 60


@pytest.mark.parametrize("kind", ["exif", "rgba", "grey", "16bit", "cmyk", "webp"])
def test_awkward_files_load_in_visible_orientation(tmp_path, astronaut, kind):
    image = Image.fromarray(astronaut)
    path = tmp_path / "photo.png"
    if kind == "exif":
        path = tmp_path / "photo.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
        image.rotate(90, expand=True).save(path, exif=exif)
    elif kind == "rgba":
        image.convert("RGBA").save(path)
    elif kind == "grey":
        image.convert("L").save(path)
    elif kind == "16bit":
        Image.fromarray((np.asarray(image.convert("L")).astype(np.uint16) * 257)).save(path)
    elif kind == "cmyk":
        path = tmp_path / "photo.jpg"
        image.convert("CMYK").save(path)
    else:
        path = tmp_path / "photo.webp"
        image.save(path, quality=95)
    photo = load_photo(str(path))
    assert photo.shape == astronaut.shape and photo.dtype == np.uint8
    faces = detect_faces(photo)
    assert faces and faces[0].eye_distance_px > 30


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(InputError, match="broken.jpg"):
        load_photo(str(bad))


def test_no_face_says_so():
    with pytest.raises(FaceNotFoundError, match="no face"):
        choose_face(detect_faces(np.full((300, 300, 3), 128, np.uint8)), 0)


def test_a_tiny_face_is_refused(astronaut):
    small = np.asarray(Image.fromarray(astronaut).resize((224, 224)))
    faces = detect_faces(small)
    assert faces, "dlib at upsample 1 still finds the small face"
    with pytest.raises(InputError, match="too small"):
        choose_face(faces, 0)


def test_several_faces_are_listed_largest_first(astronaut):
    smaller = np.zeros_like(astronaut)
    smaller[:384, :384] = np.asarray(Image.fromarray(astronaut).resize((384, 384)))
    two = np.concatenate([smaller, astronaut], 1)  # the larger face second in the image
    faces = detect_faces(two)
    areas = [face.area for face in faces]
    assert areas == sorted(areas, reverse=True) and len(faces) >= 2
    assert faces[0].box[0] > 512  # the largest face comes first, wherever it is
    with pytest.raises(InputError, match="--face must be"):
        choose_face(faces, 99)


def test_huge_photo_aligns_like_the_small_one(astronaut, aligned):
    big = np.asarray(Image.fromarray(astronaut).resize((6000, 6000), Image.BICUBIC))
    face = choose_face(detect_faces(big), 0)
    big_aligned = align_face(big, face)
    assert big_aligned.crop.shape == (1024, 1024, 3)
    difference = np.abs(big_aligned.crop.astype(float) - aligned.crop).mean()
    assert difference < 12


def test_save_is_atomic_and_never_overwrites(tmp_path):
    path = tmp_path / "out.png"
    save_image(np.zeros((8, 8, 3), np.uint8), path)
    with pytest.raises(InputError, match="already exists"):
        save_image(np.ones((8, 8, 3), np.uint8), path)
    assert np.asarray(Image.open(path)).max() == 0
    save_image(np.ones((8, 8, 3), np.uint8), path, overwrite=True)
    assert np.asarray(Image.open(path)).max() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_align_command_writes_crops_and_transforms(tmp_path, astronaut, capsys):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    assert main(["align", str(photo), "-o", str(tmp_path / "out"), "--face", "0"]) == 0
    record = json.loads((tmp_path / "out" / "astronaut_face0.json").read_text())
    assert Image.open(tmp_path / "out" / "astronaut_face0.png").size == (1024, 1024)
    assert np.array(record["transform"]["crop_to_photo"]).shape == (2, 3) and len(record["landmarks"]) == 68
    assert main(["align", str(photo), "-o", str(tmp_path / "out"), "--face", "0"]) == 2
    assert "already exists" in capsys.readouterr().err
