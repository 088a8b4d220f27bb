"""Reading colours, sketches and masks the ways users give them."""

import cv2
import numpy as np
import pytest
from PIL import Image

from hairedit.conditions import LABEL_COLOURS, load_mask, load_sketch, parse_rgb
from hairedit.errors import InputError


def official_sketch(size_px=512, width=2, value=128):
    """Strokes as HairCLIPv2's painter draws them: cv2.line, grey 128, thickness 2, 512 canvas."""
    canvas = np.zeros((size_px, size_px), np.uint8)
    scale = size_px / 512
    for start, end in (((60, 80), (200, 420)), ((300, 60), (420, 300)), ((100, 450), (460, 470))):
        cv2.line(canvas, tuple(int(v * scale) for v in start), tuple(int(v * scale) for v in end), value, width)
    return canvas


def far_pixels(strokes, reference, distance_px=2):
    """How many stroke pixels lie farther than distance_px from every reference stroke pixel."""
    kernel = np.ones((2 * distance_px + 1,) * 2, np.uint8)
    return int((strokes & ~(cv2.dilate(reference.astype(np.uint8), kernel) > 0)).sum())


# -- parse_rgb -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("180,40,40", (180, 40, 40)),
        (" 180 , 40 ,40 ", (180, 40, 40)),
        ("180 40 40", (180, 40, 40)),
        ("#b42828", (180, 40, 40)),
        ("#B42828", (180, 40, 40)),
        ("#f00", (255, 0, 0)),
        ("crimson", (220, 20, 60)),
        ("Crimson", (220, 20, 60)),
        ("rgb(1, 2, 3)", (1, 2, 3)),
        ((0, 128, 255), (0, 128, 255)),
        ([0, 128, 255], (0, 128, 255)),
        ((np.uint8(7), np.int64(8), 9), (7, 8, 9)),
    ],
)
def test_parse_rgb_accepts_the_usual_ways_to_write_a_colour(value, expected):
    assert parse_rgb(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("300,0,0", "between 0 and 255"),
        ("-5,0,0", "between 0 and 255"),
        ((0, 0, 256), "between 0 and 255"),
        ("blurple", "not a colour"),
        ("#12345", "not a colour"),
        ("1,2", "not a colour"),
        ("", "not a colour"),
        ((1, 2), "three whole numbers"),
        ((0.5, 0.2, 0.1), "three whole numbers"),
        ((True, 0, 0), "three whole numbers"),
    ],
)
def test_parse_rgb_refuses_impossible_colours_with_a_hint(value, message):
    with pytest.raises(InputError, match=message) as error:
        parse_rgb(value)
    assert "e.g." in str(error.value) or "Got" in str(error.value)


# -- load_sketch ---------------------------------------------------------------------------------


def test_an_official_sketch_is_kept_bit_for_bit():
    sketch = official_sketch()
    assert np.array_equal(load_sketch(sketch), sketch)
    assert np.array_equal(load_sketch(np.where(sketch > 0, 255, 0).astype(np.uint8)), sketch)  # white strokes


def test_sketch_files_of_any_square_size_become_official_strokes(tmp_path):
    reference = official_sketch() > 0
    for size_px, width in ((1024, 2), (1024, 4), (1024, 25), (2048, 1), (256, 1)):
        path = tmp_path / f"sketch_{size_px}_{width}.png"
        Image.fromarray(official_sketch(size_px, width, 255)).save(path)
        strokes = load_sketch(str(path))
        assert strokes.shape == (512, 512) and strokes.dtype == np.uint8
        assert set(np.unique(strokes)) == {0, 128}
        # The same lines, redrawn about as wide as the official ones (scaling moves pixels by 1).
        assert far_pixels(strokes > 0, reference) == 0 and far_pixels(reference, strokes > 0) == 0
        assert 0.8 < (strokes > 0).sum() / reference.sum() < 1.4, (size_px, width)


def test_dark_strokes_on_white_and_strokes_on_transparent_read_like_light_on_black(tmp_path):
    light_on_black = load_sketch(official_sketch(1024, 6, 255))
    dark_on_white = np.repeat(255 - official_sketch(1024, 6, 255)[..., None], 3, axis=2)
    on_transparent = np.zeros((1024, 1024, 4), np.uint8)
    on_transparent[..., 3] = official_sketch(1024, 6, 255)
    Image.fromarray(on_transparent).save(tmp_path / "layer.png")
    assert np.array_equal(load_sketch(dark_on_white), light_on_black)
    assert np.array_equal(load_sketch(on_transparent), light_on_black)
    assert np.array_equal(load_sketch(str(tmp_path / "layer.png")), light_on_black)


def test_sketch_on_another_canvas_size():
    strokes = load_sketch(official_sketch(), size_px=256)
    assert strokes.shape == (256, 256) and set(np.unique(strokes)) == {0, 128}


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: Image.fromarray(official_sketch()[:, :400]).save(p), "is 400x512; a sketch must be square"),
        (lambda p: p.write_text("strokes"), "is not a readable image"),
        (lambda p: Image.new("L", (512, 512)).save(p), "has no strokes"),
        (lambda p: Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), np.uint8)).save(p),
         "does not look like a sketch"),
        (lambda p: None, "no such file"),
    ],
    ids=["not-square", "not-an-image", "empty", "a-photo", "missing"],
)
def test_unusable_sketch_files_are_refused_by_name(tmp_path, make, message):
    path = tmp_path / "my_sketch.png"
    make(path)
    with pytest.raises(InputError, match=message) as error:
        load_sketch(str(path))
    assert "my_sketch.png" in str(error.value)


# -- load_mask -----------------------------------------------------------------------------------


def painted_labels(size_px=512):
    labels = np.zeros((size_px, size_px), np.uint8)
    labels[: size_px // 3] = 10
    labels[size_px // 3 :] = 1
    labels[size_px // 2 :, : size_px // 8] = 6
    labels[size_px - size_px // 8 :] = 15  # cloth: kept, the mask loss ignores it
    return labels


def test_a_grey_label_map_is_read_as_labels_at_the_canvas_size(tmp_path):
    labels = painted_labels(1024)
    Image.fromarray(labels).save(tmp_path / "mask.png")
    mask = load_mask(str(tmp_path / "mask.png"))
    assert mask.shape == (512, 512) and mask.dtype == np.uint8
    assert np.array_equal(mask, labels[::2, ::2])
    assert np.array_equal(load_mask(np.repeat(labels[..., None], 3, axis=2)), labels[::2, ::2])
    assert np.array_equal(load_mask(labels.astype(np.float32), size_px=1024), labels)


def test_a_mask_painted_in_the_official_colours_is_read_as_labels(tmp_path):
    labels = painted_labels()
    colours = np.array(LABEL_COLOURS, np.uint8)[labels]
    Image.fromarray(colours).save(tmp_path / "painted.png")
    Image.fromarray(colours).save(tmp_path / "painted.jpg", quality=85)
    Image.fromarray(colours).convert("P", palette=Image.ADAPTIVE).save(tmp_path / "painted_8bit.png")
    assert np.array_equal(load_mask(str(tmp_path / "painted.png")), labels)
    assert np.array_equal(load_mask(str(tmp_path / "painted_8bit.png")), labels)
    assert (load_mask(str(tmp_path / "painted.jpg")) == labels).mean() > 0.99


def test_blended_brush_edges_take_the_nearest_colour():
    colours = np.zeros((100, 100, 3), np.uint8)
    colours[:50] = LABEL_COLOURS[10]
    colours[50] = (190, 110, 240)  # a soft edge near the hair colour
    assert (load_mask(colours)[:51] == 10).all()


@pytest.mark.parametrize(
    "array, message",
    [
        (painted_labels() * 16, "has values"),
        (np.where(painted_labels() == 10, 255, 0).astype(np.uint8), "is black and white"),
        (np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8), "not a painted mask"),
        (painted_labels()[:, :300], "is 300x512; a mask must be square"),
        (painted_labels().astype(np.float32) + 0.5, "holds fractions"),
    ],
    ids=["labels-over-15", "black-and-white", "photo", "not-square", "fractions"],
)
def test_masks_that_are_not_label_maps_are_refused_with_a_hint(array, message):
    with pytest.raises(InputError, match=message) as error:
        load_mask(array)
    assert "the mask" in str(error.value)


def test_unusable_mask_files_are_refused_by_name(tmp_path):
    (tmp_path / "mask.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="mask.png is not a readable image"):
        load_mask(str(tmp_path / "mask.png"))
    Image.fromarray(painted_labels()[:200]).save(tmp_path / "wide.png")
    with pytest.raises(InputError, match="wide.png is 512x200"):
        load_mask(str(tmp_path / "wide.png"))
