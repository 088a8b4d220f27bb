"""`--smoke` shows that the conditions reach the networks: under the smoke settings (random
networks, a few steps a loop) two different conditions of any mode give different pixels.

Random networks are random: with the wrong network seed the random parser finds no hair in a
text proxy started from the mean face, blending then takes none of that proxy's features,
and every text hairstyle gives the same bytes (SMOKE_NETWORK_SEED's comment)."""

import numpy as np
import pytest
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.samples import sample_mask, sample_sketch


def _greyscale(photo: np.ndarray) -> np.ndarray:
    return np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)


def _darkened(photo: np.ndarray) -> np.ndarray:
    return (photo * 0.3).astype(np.uint8)


PHOTO = data.astronaut()
MIRRORED = np.ascontiguousarray(PHOTO[:, ::-1])
# Per mode, two requests that differ only in that mode's condition (a mask goes with a text hairstyle).
MODES = {
    "text": ({"hairstyle": "afro hairstyle"}, {"hairstyle": "bob cut hairstyle"}),
    "reference hairstyle": ({"hairstyle_ref": MIRRORED}, {"hairstyle_ref": _greyscale(MIRRORED)}),
    "sketch": ({"sketch": sample_sketch()}, {"sketch": np.ascontiguousarray(sample_sketch()[:, ::-1])}),
    "painted mask": ({"hairstyle": "afro hairstyle"}, {"hairstyle": "afro hairstyle", "mask": "long"}),
    "colour text": ({"color": "purple hair"}, {"color": "blond hair"}),
    # The colour loss is an L1 of mean Lab colours: its gradient sees only on which side of the
    # photo's hair colour a target lies, so the second reference is darker than any hair here.
    "colour reference": ({"color_ref": MIRRORED}, {"color_ref": _darkened(MIRRORED)}),
    "RGB colour": ({"rgb": "crimson"}, {"rgb": "blue"}),
}


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    """The --smoke editor and settings, with an inversion cache: the photo is inverted once."""
    smoke = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, cache_dir=tmp_path_factory.mktemp("cache"))
    assert smoke.config == EditConfig.smoke()
    return smoke


@pytest.mark.parametrize("mode", MODES)
def test_two_conditions_of_a_mode_give_different_pixels_under_smoke(editor, mode):
    images = []
    for conditions in MODES[mode]:
        if conditions.get("mask") == "long":
            conditions = {**conditions, "mask": sample_mask(editor, editor.align(PHOTO).crop)}
        images.append(np.asarray(editor.edit(PHOTO, progress=False, **conditions).image))
    assert not np.array_equal(*images), f"{mode}: both conditions gave the same pixels"
