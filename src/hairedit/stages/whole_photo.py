"""The whole photo after paste-back: hair that ran on past the crop, and hair that now should.

The edit changes the FFHQ square only. Outside it, in the crop's own frame (u to the right,
v downwards, crop pixels, extended past the square), every photo pixel below or beside the
square belongs to the nearest point of the square's bottom, left or right edge (the square's
top is never continued). An edge point is *reached* by a hair mask when that mask holds hair
within ``EDGE_BAND_FRACTION`` of the side inside the square, at that point's row or column.

- **Shorter hair.** This face's old hair past the crop (the photo's hair, connected to the old
  hair inside the crop) whose edge point the new hair does not reach is removed, with the old
  hair the paste-back's fade left inside the square's border there; the inpainter restores
  what was behind it.
- **Longer hair.** Past each edge point the new hair reaches and the old hair did not, the
  hair goes on outward: to the old hair's extent past the crop, or ``hair_length_px`` (crop
  px) where given, else ``DEFAULT_LENGTH_FRACTION`` of the side. The inpainter fills that
  region, the new hair above it as context.
- **Recolouring.** Old hair past the crop whose edge point the new hair reaches stays; when
  the edit changed the hair's colour (mean Lab distance over ``COLOUR_CHANGE_DELTA_E``), it is
  brought to the new hair's colour (Lab mean and spread transfer).

Every pixel outside the paste-back's region, the inpainting's region and the recoloured old
hair is the pasted photo's, bit for bit (and so the original's).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face.align import CropTransform
from ..face.paste import BORDER_FEATHER_FRACTION, FEATHER_FRACTION as PASTE_FEATHER_FRACTION
from ..inpaint import Inpainter, inpaint_photo

EDGE_BAND_FRACTION = PASTE_FEATHER_FRACTION  # the band face.paste.old_hair_left_past_crop looks at
DEFAULT_LENGTH_FRACTION = 0.25  # longer hair with nothing to go by continues a quarter side
HOLE_MARGIN_FRACTION = 0.01  # the removal's hole reaches this far past the old hair (parses miss strands)
FEATHER_FRACTION = 0.01  # the fill fades into the photo over this much
COLOUR_CHANGE_DELTA_E = 6.0  # Lab distance of the hair's mean colours above which old hair is recoloured
WINDOW_CROP_SIDES = (-0.5, 0.0, 1.5, 2.0)  # the whole-photo window: left, top, right, bottom, in crop sides

_BOTTOM, _LEFT, _RIGHT, _ABOVE = 0, 1, 2, 3


@dataclass
class WholePhotoMasks:
    """(H, W) bool masks at the photo's size."""

    hair_before: np.ndarray  # this face's hair before the edit
    hair_after: np.ndarray  # after: the edited crop's hair, old hair kept past it, hair continued
    inpaint_region: np.ndarray  # what the inpainting may change (its hole and feather ring)


@dataclass
class WholePhotoPlan:
    """What the step will do: bool masks of the frame's box."""

    removed: np.ndarray  # old hair to remove
    extended: np.ndarray  # where the hair goes on
    past_crop: np.ndarray  # this face's old hair past the crop
    kept_past_crop: np.ndarray  # the part of it the new hair continues
    old_inside: np.ndarray  # the crop's old hair
    new_inside: np.ndarray  # the crop's new hair


@dataclass
class WholePhotoOutcome:
    image: np.ndarray  # (H, W, 3) uint8
    masks: WholePhotoMasks
    old_ends_remain: bool  # old hair past the crop the new hair does not continue is still there
    recoloured: np.ndarray  # (H, W) bool, old hair brought to the new colour


class CropFrame:
    """The photo pixels of the whole-photo window in the crop's frame: for each, its (u, v)
    and the edge point it belongs to. Arrays are of the window's photo box."""

    def __init__(self, transform: CropTransform, photo_hw: tuple[int, int]):
        self.size = size = transform.size_px
        self.photo_hw = photo_hw
        self.box = window_box(transform, photo_hw)
        left, top, right, bottom = self.box
        ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
        inverse = transform.photo_to_crop.astype(np.float32)
        self.u = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
        self.v = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
        last = size - 0.5
        self.inside = (self.u >= -0.5) & (self.u < last) & (self.v >= -0.5) & (self.v < last)
        window_left, window_top, window_right, window_bottom = (side * size - 0.5 for side in WINDOW_CROP_SIDES)
        self.in_window = (self.u >= window_left) & (self.u < window_right) & (self.v >= window_top) & (self.v < window_bottom)
        column = np.clip(np.rint(self.u), 0, size - 1).astype(np.int32)
        row = np.clip(np.rint(self.v), 0, size - 1).astype(np.int32)
        below, left_of, right_of = self.v >= last, self.u < -0.5, self.u >= last
        # Outside: the edge past which a pixel lies (below wins at the lower corners). Inside:
        # the nearest of bottom, left and right (the border band's pixels).
        to_bottom, to_left, to_right = last - self.v, self.u + 0.5, last - self.u
        nearest = np.where((to_bottom <= to_left) & (to_bottom <= to_right), _BOTTOM,
                           np.where(to_left <= to_right, _LEFT, _RIGHT))
        outside_edge = np.select([below, left_of, right_of], [_BOTTOM, _LEFT, _RIGHT], _ABOVE)
        # Small types: a 12-megapixel photo's window holds millions of pixels.
        self.edge = np.where(self.inside, nearest, outside_edge).astype(np.int8)
        self.edge[~self.in_window] = _ABOVE  # nothing outside the window is touched
        self.position = np.where(self.edge == _BOTTOM, column, row).astype(np.int32)
        self.beyond = np.select(  # crop px past the edge (negative inside)
            [self.edge == _BOTTOM, self.edge == _LEFT, self.edge == _RIGHT], [-to_bottom, -to_left, -to_right], 0.0
        ).astype(np.float32)

    def cut(self, photo_mask: np.ndarray) -> np.ndarray:
        left, top, right, bottom = self.box
        return photo_mask[top:bottom, left:right] > 0

    def paste(self, box_mask: np.ndarray) -> np.ndarray:
        """A box mask at the photo's size (False outside the box)."""
        left, top, right, bottom = self.box
        mask = np.zeros(self.photo_hw, bool)
        mask[top:bottom, left:right] = box_mask
        return mask

    def from_crop(self, mask: np.ndarray) -> np.ndarray:
        """A crop mask (S, S) at each pixel inside the crop (nearest), False outside."""
        column = np.clip(np.floor(self.u + 0.5), 0, self.size - 1).astype(np.int32)
        row = np.clip(np.floor(self.v + 0.5), 0, self.size - 1).astype(np.int32)
        return self.inside & (mask[row, column] > 0.5)

    def edge_values(self, reach: np.ndarray) -> np.ndarray:
        """reach (3, S) bool per edge and position -> bool at each pixel's edge point (False above)."""
        edge = np.minimum(self.edge, 2)
        return (self.edge != _ABOVE) & reach[edge, self.position]


def window_box(transform: CropTransform, photo_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) photo pixels of the whole-photo window (``WINDOW_CROP_SIDES``)."""
    size = transform.size_px
    left, top, right, bottom = (side * size - 0.5 for side in WINDOW_CROP_SIDES)
    corners = transform.to_photo(np.array([[left, top], [right, top], [left, bottom], [right, bottom]]))
    height, width = photo_hw
    return (
        max(0, int(np.floor(corners[:, 0].min()))), max(0, int(np.floor(corners[:, 1].min()))),
        min(width, int(np.ceil(corners[:, 0].max())) + 1), min(height, int(np.ceil(corners[:, 1].max())) + 1),
    )


def edge_reach(hair: np.ndarray) -> np.ndarray:
    """(3, S) bool: for the bottom, left and right edges, whether ``hair`` (S, S) holds hair
    within the edge band at each position."""
    size = hair.shape[0]
    band = max(1, round(size * EDGE_BAND_FRACTION))
    hair = hair > 0.5
    return np.stack([hair[-band:, :].any(0), hair[:, :band].any(1), hair[:, -band:].any(1)])


def plan_whole_photo(
    frame: CropFrame, hair_before_crop: np.ndarray, hair_after_crop: np.ndarray, hair_before_photo: np.ndarray,
    hair_length_px: float | None = None,
) -> WholePhotoPlan:
    """Which pixels lose their old hair, where the hair goes on, what old hair stays.

    hair_*_crop: (S, S) masks in the frame's crop; hair_before_photo: (H, W) the photo's hair
    before the edit (any face's: this face's is picked out by connection to its crop's hair).
    """
    size = frame.size
    hair_photo = frame.cut(hair_before_photo)
    old_inside = frame.from_crop(hair_before_crop)
    new_inside = frame.from_crop(hair_after_crop)
    outside = ~frame.inside & (frame.edge != _ABOVE)
    past = _connected_to(hair_photo & outside, old_inside, hair_photo | old_inside)
    reach_new, reach_old = edge_reach(hair_after_crop), edge_reach(hair_before_crop)
    continued = frame.edge_values(reach_new)
    fade_band = frame.inside & (frame.beyond > -size * BORDER_FEATHER_FRACTION)
    removed = (past & ~continued) | (fade_band & old_inside & ~new_inside & ~continued & past_reaches(frame, past))
    length = hair_length_px
    if length is None:
        length = float(frame.beyond[past].max()) if past.any() else size * DEFAULT_LENGTH_FRACTION
    extended = frame.edge_values(reach_new & ~reach_old) & outside & (frame.beyond <= length)
    return WholePhotoPlan(removed, extended, past, past & continued, old_inside, new_inside)


def past_reaches(frame: CropFrame, past: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose edge point has old hair past the crop beyond it (so the old
    hair in the fade band there is the start of hair that runs on, not hair ending at the edge)."""
    reach = np.zeros((3, frame.size), bool)
    edges, positions = frame.edge[past], frame.position[past]
    keep = edges != _ABOVE
    reach[edges[keep], positions[keep]] = True
    return frame.edge_values(reach)


def whole_photo_step(
    pasted: np.ndarray, transform: CropTransform, hair_before_crop: np.ndarray, hair_after_crop: np.ndarray,
    hair_before_photo: np.ndarray, crop_before: np.ndarray, crop_after: np.ndarray,
    inpainter: Inpainter | None, hair_length_px: float | None = None,
) -> WholePhotoOutcome:
    """The photo after paste-back (``pasted``, (H, W, 3) uint8) made right past the crop.

    transform: crop <-> photo (any crop size); hair_*_crop: (S, S) masks; hair_before_photo:
    (H, W) bool; crop_before / crop_after: (S', S', 3) uint8 crops (any size) for the hair's
    colours; hair_length_px in crop pixels at size S. ``inpainter`` None: nothing outside the
    paste-back changes (the old hair stays, ``old_ends_remain`` says whether it shows).
    """
    size = hair_before_crop.shape[0]
    frame = CropFrame(transform.for_size(size), pasted.shape[:2])
    plan = plan_whole_photo(frame, hair_before_crop, hair_after_crop, hair_before_photo, hair_length_px)
    hair_before = frame.paste(plan.old_inside | plan.past_crop)
    nothing = np.zeros(pasted.shape[:2], bool)
    if inpainter is None:
        masks = WholePhotoMasks(hair_before, frame.paste(plan.new_inside | plan.past_crop), nothing)
        return WholePhotoOutcome(pasted.copy(), masks, bool(plan.removed.any()), nothing)
    kept = frame.paste(plan.kept_past_crop)
    image, recoloured = _recolour(pasted, kept, crop_before, crop_after, hair_before_crop, hair_after_crop)
    photo_px = frame_photo_px(transform, size)
    hole = frame.paste(_grow(plan.removed, round(size * HOLE_MARGIN_FRACTION * photo_px)) | plan.extended)
    filled = inpaint_photo(image, hole, inpainter, max(1, round(size * FEATHER_FRACTION * photo_px)))
    hair_after = frame.paste(plan.new_inside | plan.kept_past_crop | plan.extended)
    masks = WholePhotoMasks(hair_before, hair_after, filled.region)
    return WholePhotoOutcome(filled.image, masks, False, recoloured & ~filled.region)


def run_whole_photo(
    pasted: np.ndarray, aligned, hair_before_crop: np.ndarray, hair_after_crop: np.ndarray,
    crop_after: np.ndarray, hair_photo: np.ndarray, inpainter: Inpainter | None, hair_length_crop_px: float | None,
) -> WholePhotoOutcome:
    """The step as an edit runs it: ``pasted`` the photo after paste-back, ``aligned`` its
    :class:`~hairedit.face.align.AlignedFace`, the crop's hair masks (S, S) at the generator's
    size, ``crop_after`` the edited crop, ``hair_photo`` the original photo's hair
    (:func:`parse_photo_hair`), ``hair_length_crop_px`` in pixels of the aligned crop (1024 px)."""
    size = hair_before_crop.shape[0]
    length = None if hair_length_crop_px is None else hair_length_crop_px * size / aligned.transform.size_px
    return whole_photo_step(pasted, aligned.transform, hair_before_crop, hair_after_crop, hair_photo,
                            aligned.crop, crop_after, inpainter, length)


def frame_photo_px(transform: CropTransform, size: int) -> float:
    """Photo pixels per crop pixel of a crop of ``size`` px."""
    return transform.photo_px_per_crop_px * transform.size_px / size


def _connected_to(candidates: np.ndarray, seeds: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """The pixels of ``candidates`` in connected components of ``hair`` that hold a seed."""
    count, labels = cv2.connectedComponents(hair.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(candidates)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[seeds & hair])] = True
    seeded[0] = False
    return candidates & seeded[labels]


def _grow(mask: np.ndarray, radius_px: int) -> np.ndarray:
    if radius_px <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _recolour(photo, kept, crop_before, crop_after, hair_before_crop, hair_after_crop):
    """Old hair kept past the crop, brought to the new hair's colour when the edit changed it."""
    if not kept.any():
        return photo, np.zeros_like(kept)
    old = _lab_pixels(crop_before, hair_before_crop)
    new = _lab_pixels(crop_after, hair_after_crop)
    if len(old) < 16 or len(new) < 16 or np.linalg.norm(old.mean(0) - new.mean(0)) <= COLOUR_CHANGE_DELTA_E:
        return photo, np.zeros_like(kept)
    lab = cv2.cvtColor(photo[kept][None].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[0]
    moved = (lab - old.mean(0)) * (new.std(0) + 1e-3) / (old.std(0) + 1e-3) + new.mean(0)
    moved[:, 0] = np.clip(moved[:, 0], 0, 100)
    rgb = cv2.cvtColor(moved[None].astype(np.float32), cv2.COLOR_LAB2RGB)[0]
    out = photo.copy()
    out[kept] = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    return out, kept


def _lab_pixels(crop: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """(N, 3) Lab values of the crop's hair pixels (the mask brought to the crop's size)."""
    size = crop.shape[0]
    if hair.shape[0] != size:
        hair = cv2.resize(hair.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST)
    pixels = crop[hair > 0.5]
    if not len(pixels):
        return np.zeros((0, 3), np.float32)
    return cv2.cvtColor(pixels[None].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[0]


def parse_photo_hair(photo: np.ndarray, transform: CropTransform, parser) -> np.ndarray:
    """(H, W) bool: hair in the whole-photo window around the face (``WINDOW_CROP_SIDES``: the
    crop extended down to the chest and out to the shoulders, a square of two crop sides),
    parsed at the parser's resolution (``parser``: a :class:`hairedit.networks.bisenet.FaceParser`)."""
    import torch

    from ..labels import HAIR

    size, parsed_px = transform.size_px, parser.input_size_px
    left, top, right, bottom = (side * size for side in WINDOW_CROP_SIDES)
    crop_px_per_window_px = (right - left) / parsed_px
    # window pixel (j, i) -> crop (u, v) -> photo (x, y), pixel centres at integers throughout
    offset = np.array([left - 0.5 + crop_px_per_window_px / 2, top - 0.5 + crop_px_per_window_px / 2])
    linear = transform.crop_to_photo[:, :2]
    window_to_photo = np.column_stack([linear * crop_px_per_window_px, linear @ offset + transform.crop_to_photo[:, 2]])
    box_left, box_top, box_right, box_bottom = window_box(transform, photo.shape[:2])
    source = photo[box_top:box_bottom, box_left:box_right]
    to_source = window_to_photo - np.array([[0, 0, box_left], [0, 0, box_top]], dtype=np.float64)
    shrink = transform.photo_px_per_crop_px * crop_px_per_window_px
    if shrink > 1.5:  # average the photo down first: a bilinear warp would alias its fine detail
        source = cv2.resize(source, None, fx=1 / shrink, fy=1 / shrink, interpolation=cv2.INTER_AREA)
        scale = np.array([[source.shape[1] / (box_right - box_left)], [source.shape[0] / (box_bottom - box_top)]])
        to_source = to_source * scale + np.column_stack([np.zeros((2, 2)), (scale - 1) / 2])
    window = cv2.warpAffine(source, to_source, (parsed_px, parsed_px),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101)
    device = next(parser.parameters()).device
    image = torch.from_numpy(window).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        hair = (parser.labels(image)[0, 0] == HAIR).to(torch.uint8).cpu().numpy()
    to_box = window_to_photo - np.array([[0, 0, box_left], [0, 0, box_top]], dtype=np.float64)
    box_hair = cv2.warpAffine(hair, to_box, (box_right - box_left, box_bottom - box_top), flags=cv2.INTER_NEAREST)
    mask = np.zeros(photo.shape[:2], bool)
    mask[box_top:box_bottom, box_left:box_right] = box_hair > 0
    return mask
