"""`hairedit align PHOTO -o DIR`: crops to draw on, with the transform back to the photo."""

import json
import re

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit.cli import main
from hairedit.face.align import CropTransform, align_face
from hairedit.face.detect import detect_faces


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture
def photo_path(tmp_path, astronaut):
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    return path


def test_align_writes_the_crop_and_a_transform_that_maps_it_back(tmp_path, photo_path, capsys):
    out = tmp_path / "aligned"
    assert main(["align", str(photo_path), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_face0.json", "astronaut_face0.png"]
    crop = np.asarray(Image.open(out / "astronaut_face0.png"))
    record = json.loads((out / "astronaut_face0.json").read_text())
    photo = np.asarray(Image.open(photo_path))
    face = detect_faces(photo)[0]
    np.testing.assert_array_equal(crop, align_face(photo, face).crop)  # PNG: the crop exactly
    transform = CropTransform.from_json(record["transform"])
    landmarks = np.array(record["landmarks"])
    np.testing.assert_allclose(transform.to_crop(landmarks), record["landmarks_in_crop"], atol=0.01)
    assert record["box"] == list(face.box) and record["face"] == 0 and record["score"] > 1
    assert record["transform"]["photo_size"] == [512, 512] and len(record["transform"]["quad"]) == 4
    assert "face 0: box" in capsys.readouterr().out


def test_align_refuses_to_overwrite_and_leaves_the_files_alone(tmp_path, photo_path, capsys):
    out = tmp_path / "aligned"
    assert main(["align", str(photo_path), "-o", str(out), "--face", "0"]) == 0
    (out / "astronaut_face0.json").write_text("{}")  # the user's own notes, say
    assert main(["align", str(photo_path), "-o", str(out), "--face", "0"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "astronaut_face0.json").read_text() == "{}"
    assert main(["align", str(photo_path), "-o", str(out), "--face", "0", "--overwrite"]) == 0
    assert json.loads((out / "astronaut_face0.json").read_text())["face"] == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_align_with_several_faces_writes_each_or_the_one_asked_for(tmp_path, astronaut, capsys):
    smaller = np.zeros_like(astronaut)
    smaller[:384, :384] = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    tiny = np.zeros_like(astronaut)
    tiny[:256, :256] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)  # too small to edit
    Image.fromarray(np.concatenate([smaller, astronaut, tiny], axis=1)).save(tmp_path / "group.png")
    assert main(["align", str(tmp_path / "group.png"), "-o", str(tmp_path / "all")]) == 0
    written = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert written == ["group_face0.json", "group_face0.png", "group_face1.json", "group_face1.png"]
    assert "face 2: skipped" in capsys.readouterr().out
    first = json.loads((tmp_path / "all" / "group_face0.json").read_text())
    assert 512 < first["box"][0] < 1024  # the largest face, wherever it stands
    assert main(["align", str(tmp_path / "group.png"), "-o", str(tmp_path / "one"), "--face", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["group_face1.json", "group_face1.png"]
    assert main(["align", str(tmp_path / "group.png"), "-o", str(tmp_path / "bad"), "--face", "7"]) == 2
    assert "--face must be 0..2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [(None, "no face found in .*plain.png"), (b"GIF89a nonsense", "plain.png is not a readable image")],
)
def test_align_errors_name_the_photo(tmp_path, capsys, content, message):
    path = tmp_path / "plain.png"
    if content is None:
        Image.fromarray(np.full((300, 400, 3), 90, np.uint8)).save(path)
    else:
        path.write_bytes(content)
    assert main(["align", str(path), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hairedit: error: ") and re.search(message, error)
    assert not (tmp_path / "out").exists()
