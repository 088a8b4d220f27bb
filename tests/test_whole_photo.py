"""The whole-photo step on controlled masks: a 64 px crop placed 1:1 in a 160 x 200 photo at
(48, 20), so crop pixel (u, v) is photo pixel (u + 48, v + 20); the crop's bottom edge is
photo row 83. An inpainter that paints a flat colour makes every filled pixel visible."""

import numpy as np
import pytest
import torch

from hairedit.face.align import CropTransform
from hairedit.inpaint import OpenCVInpainter, inpaint_photo
from hairedit.labels import HAIR
from hairedit.stages import whole_photo
from hairedit.stages.whole_photo import CropFrame, plan_whole_photo, whole_photo_step

SIZE, LEFT, TOP = 64, 48, 20
PHOTO_HW = (200, 160)
FILL = np.array([0, 255, 0], np.uint8)


class FlatInpainter:
    working_size_px = 4096

    def __init__(self):
        self.calls = 0

    def __call__(self, image, hole):
        self.calls += 1
        return np.where(hole[..., None], FILL, image)


class ColourParser(torch.nn.Module):
    """A stand-in face parser: hair where ``is_hair(image)`` ((B, 3, p, p) in [-1, 1] -> (B, p, p)
    bool) says, at its own resolution p."""

    def __init__(self, input_size_px: int, is_hair):
        super().__init__()
        self.input_size_px, self.is_hair = input_size_px, is_hair
        self.unused = torch.nn.Parameter(torch.zeros(1))  # where the step looks for the device

    def labels(self, image):
        return torch.where(self.is_hair(image)[:, None], HAIR, 0)


def transform() -> CropTransform:
    return CropTransform(np.array([[1.0, 0, LEFT], [0, 1.0, TOP]]), SIZE, PHOTO_HW[::-1])


def crop_mask(rows, columns) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[rows[0] : rows[1] + 1, columns[0] : columns[1] + 1] = 1
    return mask


def photo_mask(*rectangles) -> np.ndarray:
    """Photo-sized bool mask of (x0, x1, y0, y1) rectangles, ends included."""
    mask = np.zeros(PHOTO_HW, bool)
    for x0, x1, y0, y1 in rectangles:
        mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


@pytest.fixture
def photo():
    return np.random.default_rng(0).integers(0, 256, (*PHOTO_HW, 3), dtype=np.uint8)


# Long hair: crop columns 10-40 from row 30 down to the crop's edge, and on in the photo to row 140.
HAIR_BEFORE = crop_mask((30, 63), (10, 40))
HAIR_PHOTO = photo_mask((58, 88, 50, 140))


def plan(hair_before, hair_after, hair_photo, length=None):
    frame = CropFrame(transform(), PHOTO_HW)
    result = plan_whole_photo(frame, hair_before, hair_after, hair_photo, length)
    return frame, result


def test_shorter_hair_removes_exactly_the_old_hair_past_the_crop_and_its_fade_band():
    frame, result = plan(HAIR_BEFORE, crop_mask((30, 45), (10, 40)), HAIR_PHOTO)
    # Outside the crop: rows 84-140; inside the crop's 5% fade band (3.2 px): rows 81-83.
    assert np.array_equal(frame.paste(result.removed), photo_mask((58, 88, 81, 140)))
    assert not result.extended.any() and not result.kept_past_crop.any()


def test_where_the_new_hair_reaches_the_edge_the_old_hair_past_it_stays():
    frame, result = plan(HAIR_BEFORE, crop_mask((30, 63), (10, 25)), HAIR_PHOTO)
    assert np.array_equal(frame.paste(result.removed), photo_mask((74, 88, 81, 140)))
    assert np.array_equal(frame.paste(result.kept_past_crop), photo_mask((58, 73, 84, 140)))


def test_another_persons_hair_outside_the_crop_is_not_this_faces():
    neighbour = photo_mask((120, 150, 90, 140))  # not connected to this face's hair
    frame, result = plan(HAIR_BEFORE, crop_mask((30, 45), (10, 40)), HAIR_PHOTO | neighbour)
    assert not (frame.paste(result.removed) & neighbour).any()


@pytest.mark.parametrize("length, last_row", [(30, 113), (None, 99)])
def test_longer_hair_goes_on_below_exactly_its_width_down_to_the_length(length, last_row):
    hair_before = crop_mask((30, 45), (10, 40))
    hair_photo = photo_mask((58, 88, 50, 65))
    frame, result = plan(hair_before, crop_mask((30, 63), (20, 40)), hair_photo, length)
    # Columns 20-40, from the crop's edge (v 63.5) down `length` crop px; by default a quarter side (16).
    assert np.array_equal(frame.paste(result.extended), photo_mask((68, 88, 84, last_row)))
    assert not result.removed.any()


def test_longer_hair_goes_down_to_the_old_hairs_extent_elsewhere():
    hair_before = crop_mask((30, 63), (10, 20))  # old hair past the crop in columns 10-20, to row 130
    hair_photo = photo_mask((58, 68, 50, 130))
    frame, result = plan(hair_before, crop_mask((30, 63), (10, 40)), hair_photo)
    assert np.array_equal(frame.paste(result.extended), photo_mask((69, 88, 84, 130)))


def test_the_step_changes_only_the_paste_region_and_the_inpaint_region(photo):
    pasted = photo.copy()
    inpainter = FlatInpainter()
    outcome = whole_photo_step(
        pasted, transform(), HAIR_BEFORE, crop_mask((30, 45), (10, 40)), HAIR_PHOTO,
        photo[TOP : TOP + SIZE, LEFT : LEFT + SIZE], photo[TOP : TOP + SIZE, LEFT : LEFT + SIZE], inpainter,
    )
    region = outcome.masks.inpaint_region
    changed = np.any(outcome.image != pasted, axis=2)
    assert not (changed & ~region).any()  # bit for bit outside the inpaint region
    removed = photo_mask((58, 88, 81, 140))
    assert np.all(outcome.image[removed] == FILL) and region[removed].all()
    assert region.sum() < removed.sum() * 1.5  # the hole's margin and feather only
    assert not outcome.old_ends_remain
    assert np.array_equal(outcome.masks.hair_before, photo_mask((58, 88, 50, 140)))
    assert np.array_equal(outcome.masks.hair_after, photo_mask((58, 88, 50, 65)))


def test_without_an_inpainter_nothing_changes_and_the_old_ends_are_reported(photo):
    outcome = whole_photo_step(photo, transform(), HAIR_BEFORE, crop_mask((30, 45), (10, 40)), HAIR_PHOTO,
                               photo, photo, None)
    assert np.array_equal(outcome.image, photo)
    assert outcome.old_ends_remain and not outcome.masks.inpaint_region.any()
    assert np.array_equal(outcome.masks.hair_after, photo_mask((58, 88, 50, 65), (58, 88, 84, 140)))


def test_old_hair_past_the_crop_takes_the_new_colour_when_the_edit_changed_it(photo):
    crop_before = np.full((SIZE, SIZE, 3), 200, np.uint8)
    crop_after = crop_before.copy()
    crop_before[HAIR_BEFORE > 0] = (60, 40, 30)  # brown
    crop_after[HAIR_BEFORE > 0] = (200, 30, 40)  # red
    pasted = photo.copy()
    pasted[HAIR_PHOTO] = (60, 40, 30)
    outcome = whole_photo_step(pasted, transform(), HAIR_BEFORE, HAIR_BEFORE, HAIR_PHOTO, crop_before, crop_after,
                               FlatInpainter())
    past = photo_mask((58, 88, 84, 140))
    assert np.array_equal(outcome.recoloured, past)
    assert np.abs(outcome.image[past].astype(int) - (200, 30, 40)).max() <= 2
    changed = np.any(outcome.image != pasted, axis=2)
    assert not (changed & ~past).any()
    same = whole_photo_step(pasted, transform(), HAIR_BEFORE, HAIR_BEFORE, HAIR_PHOTO, crop_before, crop_before,
                            FlatInpainter())
    assert np.array_equal(same.image, pasted)  # no colour change: nothing to do


def test_inpainting_fills_the_hole_and_fades_into_the_photo(photo):
    hole = photo_mask((60, 90, 100, 140))
    filled = inpaint_photo(photo, hole, FlatInpainter(), feather_px=4)
    assert np.all(filled.image[hole] == FILL)
    ring = filled.region & ~hole
    assert ring.any() and np.array_equal(filled.region, hole | ring)
    assert np.array_equal(filled.image[~filled.region], photo[~filled.region])
    opencv = inpaint_photo(photo, hole, OpenCVInpainter(), feather_px=4)
    assert np.array_equal(opencv.image[~opencv.region], photo[~opencv.region])
    assert np.any(opencv.image[hole] != photo[hole])


def test_a_box_larger_than_the_working_size_is_reduced_and_brought_back(photo):
    class Small(FlatInpainter):
        working_size_px = 40

        def __call__(self, image, hole):
            assert max(image.shape[:2]) <= 40
            return super().__call__(image, hole)

    hole = photo_mask((30, 130, 40, 160))
    filled = inpaint_photo(photo, hole, Small(), feather_px=3)
    assert np.all(filled.image[hole] == FILL)
    assert np.array_equal(filled.image[~filled.region], photo[~filled.region])


def test_the_window_reaches_below_and_beside_the_crop():
    left, top, right, bottom = whole_photo.window_box(transform(), PHOTO_HW)
    assert (left, top) == (LEFT - SIZE // 2 - 1, TOP - 1) or (left, top) == (LEFT - SIZE // 2, TOP)
    assert bottom >= TOP + 2 * SIZE and right >= LEFT + SIZE + SIZE // 2


def test_the_window_parse_finds_hair_below_and_beside_the_crop():
    def dark(image):
        assert image.shape[-2:] == (64, 64)  # the parser's own resolution
        return image.mean(1) < -0.5

    photo = np.full((400, 320, 3), 230, np.uint8)
    photo[200:300, 150:200] = 20  # dark "hair" below the crop
    photo[380:, :] = 20  # dark, but outside the window
    scaled = CropTransform(np.array([[2.0, 0, 100], [0, 2.0, 40]]), SIZE, (320, 400))  # crop: x 100-227, y 40-167
    hair = whole_photo.parse_photo_hair(photo, scaled, ColourParser(64, dark))
    truth = np.zeros(hair.shape, bool)
    truth[200:300, 150:200] = True
    assert (hair & truth).sum() / (hair | truth).sum() > 0.85  # at 4 photo px per parsed px
    assert not hair[340:].any()  # the window ends two crop sides below the crop's top


def test_lama_without_its_file_falls_back_to_opencv_with_a_warning_naming_the_download(tmp_path):
    import torch

    from hairedit.components import Components
    from hairedit.inpaint import LamaInpainter, choose_inpainter
    from hairedit.networks.lama import LamaGenerator
    from tests.official.lama import write_lama

    loads = []
    missing = choose_inpainter("lama", lambda: loads.append("lama"))  # the loader says: no file
    assert loads == [] and missing.warning is None  # nothing loaded, nothing said, before a hole is filled
    image, hole = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8), np.zeros((32, 32), bool)
    hole[10:20, 10:20] = True
    assert np.array_equal(missing(image, hole), OpenCVInpainter()(image, hole)) and loads == ["lama"]
    assert "hairedit weights download big-lama.ckpt" in missing.warning
    assert isinstance(choose_inpainter("opencv", None), OpenCVInpainter)
    assert choose_inpainter("none", None) is None
    assert Components.pretrained(tmp_path, torch.device("cpu")).lama is None  # absent: never downloaded midway
    write_lama(tmp_path / "big-lama.ckpt", values="compact")
    generator = Components.pretrained(tmp_path, torch.device("cpu")).lama
    assert isinstance(generator, LamaGenerator)
    found = choose_inpainter("lama", lambda: generator)
    assert found.working_size_px == LamaInpainter.working_size_px and found.warning is None


def test_on_the_group_photo_the_long_haired_womans_old_ends_are_removed_below_her_tilted_crop():
    """t1.jpg's woman at the left: hair well past her shoulders, a tilted crop that leaves the
    photo at the left. Her hair is painted (a magenta polygon the stand-in parser calls hair)
    and the edit cuts it to a bob inside the crop: the inpainting reaches below the crop."""
    import cv2

    from hairedit.face.align import align_face
    from hairedit.face.detect import detect_faces
    from tests.real_photos import group_photo

    photo = group_photo()
    face = min(detect_faces(photo), key=lambda found: found.box[0])  # the leftmost: her
    aligned = align_face(photo, face, 256)
    painted = photo.copy()
    hair_polygon = np.array([[30, 250], [120, 232], [180, 280], [215, 560], [150, 560], [60, 590], [25, 560]])
    face_polygon = np.array([[75, 300], [160, 300], [160, 400], [75, 400]])
    hair = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(hair, [hair_polygon], 1)
    cv2.fillPoly(hair, [face_polygon], 0)
    painted[hair > 0] = (255, 0, 255)

    def magenta(image):
        return (image[:, 0] > 0.9) & (image[:, 1] < -0.9) & (image[:, 2] > 0.9)

    hair_photo = whole_photo.parse_photo_hair(painted, aligned.transform, ColourParser(256, magenta))
    assert (hair_photo & (hair > 0)).sum() > 0.8 * hair.sum()  # found below the crop too
    to_crop = aligned.transform.photo_to_crop
    hair_before = cv2.warpAffine(hair, to_crop, (256, 256), flags=cv2.INTER_NEAREST).astype(np.float32)
    hair_after = hair_before.copy()
    hair_after[180:] = 0  # a bob: nothing in the crop's lowest 30%
    outcome = whole_photo_step(photo, aligned.transform, hair_before, hair_after, hair_photo, aligned.crop,
                               aligned.crop, FlatInpainter())
    region = outcome.masks.inpaint_region
    ys, xs = np.nonzero(region)
    crop_v = aligned.transform.to_crop(np.stack([xs, ys], 1))[:, 1]
    assert crop_v.max() > 256 + 100  # well below the crop's bottom edge
    assert region[550:590, 40:200].mean() > 0.5  # where her hair ended
    assert not (np.any(outcome.image != photo, axis=2) & ~region).any()
    assert not region[:, 300:].any()  # nobody else's hair
