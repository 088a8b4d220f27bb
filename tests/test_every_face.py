"""face="all": every face of a photo edited in turn, each pasted onto the result of the one before."""

import numpy as np
import pytest
from skimage import data

from hairedit import EditConfig
from hairedit.errors import InputError
from hairedit.pipeline import HairEditor


@pytest.fixture(scope="module")
def editor():
    return HairEditor.from_random(seed=3, config=EditConfig.smoke(preset="instant"))


def test_every_face_is_edited_and_each_edit_stays_in_its_own_half(editor):
    astronaut = data.astronaut()
    photo = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # two faces, far apart
    result = editor.edit(photo, hairstyle="bob cut hairstyle", face="all", seed=1, progress=False)
    assert [each.face_index for each in result.face_results] == [0, 1] or [
        each.face_index for each in result.face_results] == [1, 0]
    changed = np.any(np.asarray(result.image) != photo, axis=2)
    assert changed[:, :512].any() and changed[:, 512:].any()
    first, second = result.face_results
    # The second face was edited on the first's result: outside its own regions, that result is kept.
    assert np.array_equal(np.asarray(result.image), np.asarray(second.image))
    assert np.array_equal(result.photo, photo) and len(result.faces) == 2
    assert result.timings["paste back"] == pytest.approx(first.timings["paste back"] + second.timings["paste back"])


def test_a_face_that_is_neither_a_number_nor_all_is_refused(editor):
    with pytest.raises(InputError, match="face must be 0 or more .0 is the largest face. or 'all', not 'both'"):
        editor.edit(data.astronaut(), hairstyle="bob cut hairstyle", face="both", progress=False)
