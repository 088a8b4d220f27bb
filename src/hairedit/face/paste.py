"""Putting the edited crop back into the whole photo, at the photo's own resolution.

Only the region the edit may change is touched. The caller gives that region in crop
coordinates (the pipeline passes hair before ∪ hair after, grown by a margin). Its blend
weight is 1 deep inside, falls smoothly to 0 over ``FEATHER_FRACTION`` of the crop side
towards the region's edge, and to 0 over ``BORDER_FEATHER_FRACTION`` towards the crop's edge,
so the weight is 0 on and outside the region and the crop. Every photo pixel whose weight is 0
is the original, bit for bit.

The crop only covers the FFHQ square. Hair that reaches past it (long hair on the shoulders)
is not in the edit and stays as it was; the wide feather at the crop's edge hands the new
hair over to the old one gradually instead of cutting it (see docs/faces.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from .align import AlignedFace, CropTransform

EDIT_MARGIN_FRACTION = 0.02  # the edit region reaches this far (of the crop side) past the hair it changes
FEATHER_FRACTION = 0.02  # 20 px at 1024: the blend's ramp inside the edit region (as wide as its margin)
BORDER_FEATHER_FRACTION = 0.05  # 51 px at 1024: the hand-over to whatever lies past the crop
DETAIL_TOLERANCE = 24.0  # grey levels of change at which none of the photo's own detail is kept
BAND_ROWS = 256  # photo rows blended at a time: bounds the float work for huge faces
_UNTOUCHED = 1 / 512  # weights below this could not change a pixel by half a grey level


def grow_edit_region(changed: np.ndarray) -> np.ndarray:
    """(S, S) bool where an edit changed the crop -> (S, S) bool where it may change it: grown by
    ``EDIT_MARGIN_FRACTION`` of the side (an ellipse), the margin blending may reach."""
    margin_px = max(1, round(changed.shape[0] * EDIT_MARGIN_FRACTION))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    return cv2.dilate(changed.astype(np.uint8), kernel).astype(bool)


def blend_weights(edit_region: np.ndarray) -> np.ndarray:
    """(S, S) region (bool, or float where > 0.5 means "may change") -> (S, S) float32 weights in [0, 1]."""
    size = edit_region.shape[0]
    inside = np.zeros((size + 2, size + 2), np.uint8)
    inside[1:-1, 1:-1] = edit_region > 0.5
    # Distance from each pixel centre to the nearest pixel it must not change (the ring of
    # zeros added round the crop counts as one): 1 next to the edge, growing inwards.
    to_region_edge = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    steps = np.arange(1, size + 1, dtype=np.float32)
    to_crop_edge = np.minimum(steps, steps[::-1])
    to_crop_edge = np.minimum(to_crop_edge[:, None], to_crop_edge[None, :])
    ramp = np.minimum(
        to_region_edge / max(1.0, size * FEATHER_FRACTION), to_crop_edge / max(1.0, size * BORDER_FEATHER_FRACTION)
    )
    ramp = np.clip(ramp, 0.0, 1.0)
    weights = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible kink where the blend starts or ends
    weights[weights < _UNTOUCHED] = 0.0
    return weights


def detail_keep(edited_crop: np.ndarray, original_crop: np.ndarray) -> np.ndarray:
    """(S, S) float32 in [0, 1]: how much of the photo's own fine detail to keep at each crop pixel.

    1 where the edit left the crop as it was, falling to 0 where it changed the picture by
    ``DETAIL_TOLERANCE`` grey levels or more (new hair must not carry the old hair's strands).
    """
    difference = np.abs(edited_crop.astype(np.float32) - original_crop.astype(np.float32)).max(axis=2)
    difference = cv2.GaussianBlur(difference, (0, 0), max(0.5, edited_crop.shape[0] / 512))
    return np.clip(1.0 - difference / DETAIL_TOLERANCE, 0.0, 1.0)


def paste_back(photo: np.ndarray, aligned: AlignedFace, edited_crop: np.ndarray, edit_region: np.ndarray) -> np.ndarray:
    """The photo with the edit blended in.

    photo: (H, W, 3) uint8, the photo ``aligned`` was cut from. edited_crop: (S, S, 3) uint8, the
    edited FFHQ crop at any size S. edit_region: (R, R) bool or float in [0, 1], in crop
    coordinates at any size R; > 0.5 where the edit may change the picture.
    Returns (H, W, 3) uint8: ``photo`` wherever the blend weight is 0, bit for bit.

    Inside the region each pixel becomes (resampled edit) + keep * (photo - resampled original
    crop), keep from :func:`detail_keep`: the crop holds less detail than a large photo, and this
    keeps the photo's own where the edit did not change the picture; an unchanged crop gives the
    photo back exactly.
    """
    _check(photo, aligned, edited_crop, edit_region)
    size = edited_crop.shape[0]
    region = _region_at(edit_region, size)
    original_crop = aligned.crop
    if original_crop.shape[0] != size:
        original_crop = np.asarray(Image.fromarray(original_crop).resize((size, size), Image.LANCZOS))
    layers = _CropLayers(edited_crop, original_crop, blend_weights(region), detail_keep(edited_crop, original_crop))
    transform = aligned.transform.for_size(size)
    gate = _RegionGate(region, transform)
    # Where the photo has fewer pixels than the crop, Lanczos-reduce first (to twice the photo's
    # scale, which the bilinear warp then reads without aliasing fine strands into jaggies).
    reduced = int(np.ceil(2 * size * transform.photo_px_per_crop_px))
    if reduced < size:
        layers = layers.resized(reduced)
        transform = transform.for_size(reduced)
    return _blend_into(photo, layers, transform, gate)


@dataclass
class _RegionGate:
    """The region itself, at full crop resolution: a photo pixel may change only if its centre
    falls inside it (resampled weights would otherwise leak half a photo pixel past its edge,
    where the feathered weight is already below 1%)."""

    region: np.ndarray  # (S, S) uint8, 1 inside
    transform: CropTransform

    def allows(self, band: tuple[int, int, int, int]) -> np.ndarray:
        left, top, right, bottom = band
        crop_to_band = self.transform.crop_to_photo - np.array([[0, 0, left], [0, 0, top]], dtype=np.float64)
        return cv2.warpAffine(self.region, crop_to_band, (right - left, bottom - top), flags=cv2.INTER_NEAREST) > 0


@dataclass
class _CropLayers:
    """What paste-back warps into the photo, all (S, S) in crop pixels."""

    edited: np.ndarray  # (S, S, 3) uint8, float32 for warping
    original: np.ndarray  # (S, S, 3) the crop before the edit, likewise
    weights: np.ndarray  # (S, S) float32 blend weights
    keep: np.ndarray  # (S, S) float32 share of the photo's own detail to keep

    def resized(self, size: int) -> _CropLayers:
        def lanczos(image: np.ndarray) -> np.ndarray:
            return np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))

        def area(values: np.ndarray) -> np.ndarray:
            return cv2.resize(values, (size, size), interpolation=cv2.INTER_AREA)

        return _CropLayers(lanczos(self.edited), lanczos(self.original), area(self.weights), area(self.keep))


def _blend_into(photo: np.ndarray, layers: _CropLayers, transform: CropTransform, gate: _RegionGate) -> np.ndarray:
    """Warp the crop layers into the photo and blend, only in the photo box the weights reach and
    a band of rows at a time: an 8000x6000 photo costs one uint8 copy, never a float one."""
    out = photo.copy()
    box = _photo_box(layers.weights, transform, photo.shape[:2])
    if box is None:
        return out
    left, top, right, bottom = box
    layers = replace(layers, edited=layers.edited.astype(np.float32), original=layers.original.astype(np.float32))
    for band_top in range(top, bottom, BAND_ROWS):
        band = (left, band_top, right, min(band_top + BAND_ROWS, bottom))
        _blend_band(out[band[1] : band[3], left:right], layers, transform, gate, band)
    return out


def _blend_band(
    pixels: np.ndarray, layers: _CropLayers, transform: CropTransform, gate: _RegionGate, band: tuple[int, int, int, int]
) -> None:
    """Blend into ``pixels`` (h, w, 3) uint8, the photo's (left, top, right, bottom) ``band``, in place."""
    left, top, right, bottom = band
    crop_to_band = transform.crop_to_photo - np.array([[0, 0, left], [0, 0, top]], dtype=np.float64)
    band_size = (right - left, bottom - top)

    def warp(values: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.warpAffine(values, crop_to_band, band_size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)

    weight = cv2.warpAffine(layers.weights, crop_to_band, band_size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    changed = (weight >= _UNTOUCHED) & gate.allows(band)
    if not changed.any():
        return
    # Cubic keeps the crop's detail where the photo is sharper than the crop; where it is not,
    # the layers were reduced to about the photo's scale and bilinear reads them cleanly.
    interpolation = cv2.INTER_CUBIC if transform.photo_px_per_crop_px > 1.0 else cv2.INTER_LINEAR
    photo_values = pixels[changed].astype(np.float32)
    edited = warp(layers.edited, interpolation)[changed]
    detail = photo_values - warp(layers.original, interpolation)[changed]
    keep = warp(layers.keep, cv2.INTER_LINEAR)[changed][:, None]
    target = edited + keep * detail
    blended = photo_values + weight[changed][:, None] * (target - photo_values)
    pixels[changed] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _photo_box(
    weights: np.ndarray, transform: CropTransform, photo_hw: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the photo pixels the nonzero weights can reach, or None."""
    left, top, width, height = cv2.boundingRect((weights > 0).astype(np.uint8))
    if width == 0:
        return None
    corners = np.array(
        [[left - 1, top - 1], [left + width, top - 1], [left - 1, top + height], [left + width, top + height]],
        dtype=np.float64,
    )
    mapped = transform.to_photo(corners)
    photo_height, photo_width = photo_hw
    box_left = max(int(np.floor(mapped[:, 0].min())) - 1, 0)
    box_top = max(int(np.floor(mapped[:, 1].min())) - 1, 0)
    box_right = min(int(np.ceil(mapped[:, 0].max())) + 2, photo_width)
    box_bottom = min(int(np.ceil(mapped[:, 1].max())) + 2, photo_height)
    if box_right <= box_left or box_bottom <= box_top:
        return None
    return box_left, box_top, box_right, box_bottom


def _check(photo: np.ndarray, aligned: AlignedFace, edited_crop: np.ndarray, edit_region: np.ndarray) -> None:
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise InputError(f"paste_back: the photo must be (H, W, 3) uint8. Got {photo.shape} {photo.dtype}")
    expected = tuple(aligned.transform.photo_size)
    if (photo.shape[1], photo.shape[0]) != expected:
        raise InputError(
            f"paste_back: the photo is {photo.shape[1]}x{photo.shape[0]} but the face was aligned in a "
            f"{expected[0]}x{expected[1]} photo; paste into the photo it came from."
        )
    if edited_crop.ndim != 3 or edited_crop.shape[0] != edited_crop.shape[1] or edited_crop.shape[2] != 3:
        raise InputError(f"paste_back: the edited crop must be square (S, S, 3) uint8. Got {edited_crop.shape}")
    if edited_crop.dtype != np.uint8:
        raise InputError(f"paste_back: the edited crop must be uint8 (0-255). Got {edited_crop.dtype}")
    if edit_region.ndim != 2 or edit_region.shape[0] != edit_region.shape[1]:
        raise InputError(f"paste_back: the edit region must be a square (R, R) mask. Got {edit_region.shape}")


def _region_at(edit_region: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8, 1 inside: the region at the edited crop's size."""
    if edit_region.shape[0] != size:
        edit_region = cv2.resize(edit_region.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    return (edit_region > 0.5).astype(np.uint8)


def region_in_photo(edit_region: np.ndarray, transform: CropTransform, crop_size_px: int) -> np.ndarray:
    """(H, W) bool: the photo pixels :func:`paste_back` may change when given ``edit_region``
    (any size) with an edited crop of ``crop_size_px``: those whose centre lies in the region."""
    region = _region_at(edit_region, crop_size_px)
    crop_to_photo = transform.for_size(crop_size_px).crop_to_photo
    width, height = transform.photo_size
    return cv2.warpAffine(region, crop_to_photo, (width, height), flags=cv2.INTER_NEAREST) > 0


def old_hair_left_past_crop(hair_before: np.ndarray, hair_after: np.ndarray, transform: CropTransform) -> bool:
    """Whether the photo's hair runs on past the crop's edge where the new hair stops short.

    hair_before, hair_after: (S, S) hair masks in crop coordinates; transform: crop <-> photo
    at any crop size. Looks at the crop's outer ``FEATHER_FRACTION`` band, where the photo goes
    on past the nearest crop edge (a band's width beyond it is still in the photo): True when
    hair covers more than 1% of that part before the edit and the new hair covers less than
    half of that hair. The old hair outside the crop is then kept (it is never edited) and its
    ends may show beyond the shorter new hair.
    """
    size = hair_before.shape[0]
    band = max(1, round(size * FEATHER_FRACTION))
    border = np.ones((size, size), bool)
    border[band:-band, band:-band] = False
    ys, xs = np.nonzero(border)
    # Each band pixel, carried a band's width past its nearest crop edge.
    to_edge = np.stack([xs, ys, size - 1 - xs, size - 1 - ys], 1)
    nearest = to_edge.argmin(1)
    outside = np.stack([xs, ys], 1).astype(np.float64)
    outside[nearest == 0, 0] = -band
    outside[nearest == 1, 1] = -band
    outside[nearest == 2, 0] = size - 1 + band
    outside[nearest == 3, 1] = size - 1 + band
    photo_points = transform.for_size(size).to_photo(outside)  # pixel centres
    width, height = transform.photo_size
    photo_goes_on = (photo_points[:, 0] >= -0.5) & (photo_points[:, 0] < width - 0.5)
    photo_goes_on &= (photo_points[:, 1] >= -0.5) & (photo_points[:, 1] < height - 0.5)
    before = hair_before[ys, xs][photo_goes_on] > 0.5
    if before.sum() <= 0.01 * photo_goes_on.sum():
        return False
    return (hair_after[ys, xs][photo_goes_on][before] > 0.5).mean() < 0.5
