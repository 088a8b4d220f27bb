"""Paste-back: the edited crop returns to the whole photo at its own resolution, changing only
the region the edit may change."""

import tracemalloc

import cv2
import numpy as np
import pytest
from skimage import data

from hairedit.errors import InputError
from hairedit.face.align import AlignedFace, CropTransform, align_face
from hairedit.face.detect import choose_face, detect_faces
from hairedit.face.paste import (
    BORDER_FEATHER_FRACTION,
    FEATHER_FRACTION,
    blend_weights,
    old_hair_left_past_crop,
    paste_back,
)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def aligned(astronaut):
    return align_face(astronaut, choose_face(detect_faces(astronaut)))


@pytest.fixture(scope="module")
def upper_region():
    region = np.zeros((1024, 1024), np.float32)
    region[60:620, 120:904] = 1  # roughly where hair and forehead are
    return region


def _reach_in_photo(region, transform, photo_shape):
    """(H, W) bool: photo pixels whose position in the crop lies inside ``region``."""
    height, width = photo_shape[:2]
    return cv2.warpAffine(region.astype(np.float32), transform.crop_to_photo, (width, height), flags=cv2.INTER_NEAREST) > 0


def _psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_an_unchanged_crop_gives_the_photo_back_exactly(astronaut, aligned, upper_region):
    out = paste_back(astronaut, aligned, aligned.crop, upper_region)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, astronaut)


def test_a_nearly_unchanged_crop_stays_close_inside_and_identical_outside(astronaut, aligned, upper_region):
    # What an inversion gives back: the crop, a little noisy.
    noise = np.random.default_rng(0).normal(0, 3, aligned.crop.shape)
    nearly = np.clip(aligned.crop + noise, 0, 255).astype(np.uint8)
    out = paste_back(astronaut, aligned, nearly, upper_region)
    inside = _reach_in_photo(upper_region, aligned.transform, astronaut.shape)
    assert _psnr(out[inside], astronaut[inside]) > 40
    np.testing.assert_array_equal(out[~inside], astronaut[~inside])
    assert (out != astronaut).any()


def test_a_change_in_one_area_changes_only_that_area_of_the_photo(astronaut, aligned):
    edited = aligned.crop.copy()
    edited[150:350, 300:700] = (0, 255, 0)
    region = np.zeros((1024, 1024), np.float32)
    region[130:370, 280:720] = 1  # the change and a margin, as the pipeline grows the hair mask
    out = paste_back(astronaut, aligned, edited, region)
    changed = (out != astronaut).any(axis=2)
    assert changed.any()
    assert not (changed & ~_reach_in_photo(region, aligned.transform, astronaut.shape)).any()
    centre = np.round(aligned.transform.to_photo([[500, 250]])[0]).astype(int)
    np.testing.assert_array_equal(out[centre[1] - 3 : centre[1] + 4, centre[0] - 3 : centre[0] + 4], [[(0, 255, 0)] * 7] * 7)


def test_outside_the_region_the_photo_is_untouched_whatever_the_crop_says(astronaut, aligned, upper_region):
    inverted = 255 - aligned.crop  # every crop pixel changed
    out = paste_back(astronaut, aligned, inverted, upper_region)
    inside = _reach_in_photo(upper_region, aligned.transform, astronaut.shape)
    np.testing.assert_array_equal(out[~inside], astronaut[~inside])
    assert (out[inside] != astronaut[inside]).mean() > 0.9


def test_blend_weights_feather_inside_the_region_and_towards_the_crop_edge():
    region = np.zeros((1024, 1024), bool)
    region[200:800, 200:800] = True
    weights = blend_weights(region)
    assert (weights[~region] == 0).all()
    feather = int(1024 * FEATHER_FRACTION)
    assert (weights[200 + feather : 800 - feather, 200 + feather : 800 - feather] == 1).all()
    row = weights[500, 195:200 + feather + 2]
    assert (np.diff(row) >= 0).all() and row[5] < 0.05  # a smooth ramp up from the region's edge
    # A region reaching past the crop (long hair): the weight fades out over a wider band at the edge.
    everything = blend_weights(np.ones((1024, 1024), bool))
    band = int(1024 * BORDER_FEATHER_FRACTION)
    assert everything[512, 0] < 0.01 and everything[512, band // 2] == pytest.approx(0.5, abs=0.05)
    assert everything[512, band + 1] == 1


def test_long_hair_past_the_crop_is_kept_and_joined_without_a_seam(astronaut, aligned):
    # The edit repaints everything (say, hair removed), region up to the crop's bottom edge.
    region = np.zeros((1024, 1024), np.float32)
    region[500:, :] = 1
    flat = np.full_like(aligned.crop, 200)
    out = paste_back(astronaut, aligned, flat, region).astype(float)
    bottom_left, bottom_right = aligned.transform.quad[1], aligned.transform.quad[2]
    down = (bottom_left - aligned.transform.quad[0]) / np.linalg.norm(bottom_left - aligned.transform.quad[0])
    centre = (bottom_left + bottom_right) / 2 - 0.3 * (bottom_right - bottom_left)
    # Walk down across the crop's bottom edge: outside it the photo is as it was; across the
    # edge the picture changes gradually, never by a jump.
    path = np.array([centre + step * down for step in np.arange(-40, 20)])
    values = np.array([out[int(round(y)), int(round(x))] for x, y in path])
    original = np.array([astronaut[int(round(y)), int(round(x))] for x, y in path]).astype(float)
    np.testing.assert_array_equal(values[-15:], original[-15:])
    weight_along = np.abs(values - original).mean(axis=1) / np.maximum(np.abs(200 - original).mean(axis=1), 1)
    assert weight_along[:5].min() > 0.9 and np.abs(np.diff(weight_along)).max() < 0.35


def _long_hair(bottom_row: int, size: int = 256) -> np.ndarray:
    hair = np.zeros((size, size), np.float32)
    hair[20:bottom_row, 60:200] = 1
    return hair


def test_hair_cut_short_at_the_crop_edge_is_noticed(aligned):
    transform = aligned.transform  # the astronaut's crop lies inside the photo
    assert old_hair_left_past_crop(_long_hair(256), _long_hair(180), transform)
    assert not old_hair_left_past_crop(_long_hair(256), _long_hair(256), transform)  # still reaches the edge
    assert not old_hair_left_past_crop(_long_hair(180), _long_hair(120), transform)  # never reached it


def test_hair_at_a_crop_edge_where_the_photo_ends_does_not_count():
    # A 1024 px crop 200 px in from the left of a 1300x900 photo: the photo goes on past the
    # crop's left and right edges, ends at its top edge, and its bottom 124 rows lie below it.
    transform = CropTransform(np.array([[1.0, 0, 200], [0, 1.0, 0]]), 1024, (1300, 900))
    assert not old_hair_left_past_crop(_long_hair(256), _long_hair(180), transform)  # bottom: no photo
    top = np.zeros((256, 256), np.float32)
    top[0:60, 100:150] = 1
    assert not old_hair_left_past_crop(top, np.zeros_like(top), transform)  # top: the photo ends there
    sideways = np.zeros((256, 256), np.float32)
    sideways[100:150, 0:100] = 1  # hair through the left edge, where the photo goes on
    assert old_hair_left_past_crop(sideways, np.zeros_like(sideways), transform)
    # Already-aligned photos: the crop is the whole photo, so nothing lies past any edge.
    whole = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 1024, (1024, 1024))
    assert not old_hair_left_past_crop(sideways, np.zeros_like(sideways), whole)


def test_fine_detail_does_not_alias_when_the_photo_is_smaller_than_the_crop(astronaut, aligned, upper_region):
    stripes = np.zeros_like(aligned.crop)
    stripes[:, ::3] = 255
    stripes[::3] = 255  # a period of 3 crop pixels: about half a photo pixel here
    out = paste_back(astronaut, aligned, stripes, upper_region).astype(float)
    core = _reach_in_photo(cv2.erode(upper_region, np.ones((61, 61))), aligned.transform, astronaut.shape)
    assert out[core].mean(axis=0) == pytest.approx([255 * 5 / 9] * 3, abs=3)  # the stripes' average grey
    assert out[core].std(axis=0).max() < 3  # no moiré


def test_edited_crops_of_other_sizes_land_in_the_same_place(astronaut, aligned):
    edited = aligned.crop.copy()
    edited[150:350, 300:700] = (255, 0, 255)
    region = np.zeros((256, 256), np.float32)
    region[30:95, 70:180] = 1
    small = cv2.resize(edited, (512, 512), interpolation=cv2.INTER_AREA)
    full = paste_back(astronaut, aligned, edited, region)
    half = paste_back(astronaut, aligned, small, region)
    changed = (full != astronaut).any(axis=2)
    assert changed.sum() > 500
    assert np.abs(full[changed].astype(float) - half[changed]).mean() < 6


def test_a_huge_photo_is_pasted_at_full_resolution_without_a_float_copy(astronaut, upper_region):
    big = cv2.resize(astronaut, (6000, 6000), interpolation=cv2.INTER_CUBIC)
    aligned = align_face(big, choose_face(detect_faces(big)))
    edited = aligned.crop.copy()
    edited[150:350, 300:700] = (0, 0, 255)
    tracemalloc.start()
    try:
        out = paste_back(big, aligned, edited, upper_region)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == big.shape
    assert peak < 2 * big.nbytes  # the result itself plus work on bands; a float copy alone is 4x
    inside = _reach_in_photo(upper_region, aligned.transform, big.shape)
    np.testing.assert_array_equal(out[~inside], big[~inside])
    centre = np.round(aligned.transform.to_photo([[500, 250]])[0]).astype(int)
    np.testing.assert_array_equal(out[centre[1], centre[0]], (0, 0, 255))


def test_a_crop_pasted_into_itself_uses_the_same_blending(aligned, upper_region):
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 1024, (1024, 1024))
    itself = AlignedFace(aligned.crop, identity, aligned.face)
    edited = 255 - aligned.crop
    out = paste_back(aligned.crop, itself, edited, upper_region)
    weights = blend_weights(upper_region)[..., None]
    expected = np.rint(aligned.crop * (1 - weights) + edited * weights)
    assert np.abs(out - expected).max() <= 1


def test_mismatched_inputs_are_refused(astronaut, aligned, upper_region):
    with pytest.raises(InputError, match="aligned in a 512x512 photo"):
        paste_back(astronaut[:300], aligned, aligned.crop, upper_region)
    with pytest.raises(InputError, match="square"):
        paste_back(astronaut, aligned, aligned.crop[:500], upper_region)
    with pytest.raises(InputError, match="uint8"):
        paste_back(astronaut, aligned, aligned.crop / 255.0, upper_region)


def test_the_paste_region_in_the_photo_holds_every_pixel_paste_back_changed():
    from hairedit.face.paste import region_in_photo

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)
    transform = CropTransform(np.array([[1.5, 0.3, 40], [-0.3, 1.5, 60]]), 128, (260, 300))
    crop = cv2.warpAffine(photo, transform.crop_to_photo, (128, 128), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    aligned = AlignedFace(crop, transform, None)
    region = np.zeros((128, 128), np.float32)
    region[40:100, 30:90] = 1
    pasted = paste_back(photo, aligned, 255 - crop, region)
    changed = np.any(pasted != photo, axis=2)
    allowed = region_in_photo(region, transform, 128)
    assert changed.any() and not (changed & ~allowed).any()
    assert allowed.sum() < 1.1 * 60 * 60 * (1.5**2 + 0.3**2)  # the region's own area in the photo
