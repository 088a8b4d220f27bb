"""The instant preset at interactive speed (issue 21): its output as before, follow-up edits
from the photo cache equal to fresh edits, the preview from the same features, proxy images
rendered only when read. Smoke-size networks; speed itself is measured by `hairedit bench`."""

import pickle

import numpy as np
import pytest
import torch
from skimage import data

from hairedit.photo_cache import PhotoCache
from tests.golden import instant_smoke

GOLDEN = np.load(instant_smoke.__file__.replace(".py", ".npz"))
# The summaries average 16 x 16 pixels of uint8 crops: float rounding on another machine moves
# a pixel by a level at most; a change of the method moves whole regions.
SUMMARY_TOLERANCE = 1.0


@pytest.fixture(scope="module")
def editor():
    return instant_smoke.smoke_editor()


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


@pytest.mark.parametrize("name", list(instant_smoke.EDITS))
def test_the_instant_output_is_as_before_the_speed_work(editor, photo, name):
    editor.photo_cache.clear()  # a fresh edit
    result = editor.edit(photo, seed=instant_smoke.SEED, progress=False, **instant_smoke.conditions(name))
    assert not result.photo_reused
    np.testing.assert_allclose(instant_smoke.summary(result.crop_after), GOLDEN[name], rtol=0, atol=SUMMARY_TOLERANCE)


def test_a_follow_up_edit_takes_the_photos_work_from_the_cache_and_equals_a_fresh_edit(editor, photo, monkeypatch):
    import hairedit.edit_run

    editor.photo_cache.clear()
    editor.edit(photo, seed=3, progress=False, color="blond hair")  # the bald proxy is not made here
    calls = []
    window_parse = hairedit.edit_run.parse_photo_hair
    monkeypatch.setattr(hairedit.edit_run, "parse_photo_hair",
                        lambda *args: calls.append("window parse") or window_parse(*args))
    hook = editor.components.e4e.register_forward_hook(lambda *_: calls.append("e4e"))
    try:
        follow_ups = [editor.edit(photo, seed=3, progress=False, **instant_smoke.conditions(name))
                      for name in ("text+rgb", "reference+mask+rgb")]
    finally:
        hook.remove()
    assert calls == [] and all(result.photo_reused for result in follow_ups)
    assert "inversion" not in follow_ups[0].timings and len(editor.photo_cache) == 1
    fresh = instant_smoke.smoke_editor()
    for name, result in zip(("text+rgb", "reference+mask+rgb"), follow_ups):
        expected = fresh.edit(photo, seed=3, progress=False, **instant_smoke.conditions(name))
        assert np.array_equal(np.asarray(result.image), np.asarray(expected.image))
        assert np.array_equal(result.masks.edit_region, expected.masks.edit_region)


def test_a_prepared_photo_edits_as_a_follow_up_equal_to_a_fresh_edit(editor, photo):
    editor.photo_cache.clear()
    assert editor.prepare(photo, seed=3)
    state = next(iter(editor.photo_cache._states.values()))
    assert state.bald is not None and state.hair_in_photo is not None  # all the per-photo work
    result = editor.edit(photo, seed=3, progress=False, **instant_smoke.conditions("text+rgb"))
    assert result.photo_reused and list(result.timings)[:2] == ["align", "bald proxy"]
    expected = instant_smoke.smoke_editor().edit(photo, seed=3, progress=False, **instant_smoke.conditions("text+rgb"))
    assert np.array_equal(np.asarray(result.image), np.asarray(expected.image))
    assert not editor.prepare(photo, preset="fast", seed=3)  # an optimising preset keeps no per-photo work


def test_another_seed_face_or_photo_is_not_a_follow_up(editor, photo):
    editor.photo_cache.clear()
    assert not editor.edit(photo, seed=1, progress=False, rgb="red").photo_reused
    assert editor.edit(photo, seed=1, progress=False, rgb="blue").photo_reused
    assert not editor.edit(photo, seed=2, progress=False, rgb="blue").photo_reused
    changed = photo.copy()
    changed[0, 0] ^= 1
    assert not editor.edit(changed, seed=1, progress=False, rgb="blue").photo_reused


def test_the_photo_cache_keeps_the_most_recently_used_within_its_budget(editor, photo):
    editor.photo_cache.clear()
    editor.edit(photo, seed=1, progress=False, rgb="red")
    one_photo = editor.photo_cache.nbytes()
    editor.photo_cache = PhotoCache(max_bytes=int(2.5 * one_photo))
    try:
        for seed in (1, 2, 3):
            editor.edit(photo, seed=seed, progress=False, rgb="red")
        assert len(editor.photo_cache) == 2
        assert editor.edit(photo, seed=3, progress=False, rgb="red").photo_reused
        assert not editor.edit(photo, seed=1, progress=False, rgb="red").photo_reused  # the oldest went
        editor.photo_cache = PhotoCache(max_bytes=0)
        editor.edit(photo, seed=1, progress=False, rgb="red")
        assert len(editor.photo_cache) == 0
    finally:
        editor.photo_cache = PhotoCache()


def test_the_preview_is_the_full_result_without_the_last_blocks_detail(photo):
    """Without the last block's RGB layer, the full image is the preview's upsampled (the skip
    path); what differs is resampling (the generator's FIR upsampling, then area-averaging,
    against the preview's Lanczos resize to the crop) and the preview's hair parse at its size
    near the edge of the edited region."""
    editor = instant_smoke.smoke_editor()
    last = editor.components.generator.to_rgbs[-1]
    with torch.no_grad():
        last.conv.weight.zero_()
        last.bias.zero_()
    conditions = instant_smoke.conditions("text+rgb")
    full = editor.edit(photo, seed=3, progress=False, **conditions)
    preview = editor.edit(photo, seed=3, progress=False, preview=True, **conditions)
    other = editor.edit(photo, seed=4, progress=False, preview=True, **conditions)
    inside = (full.masks.edit_region > 0) & (preview.masks.edit_region > 0)
    summary_px = instant_smoke.SUMMARY_PX // 4  # the preview's own 32 px, averaged twice more
    inside = instant_smoke.summary(np.repeat(inside[..., None], 3, 2).astype(np.uint8))
    full, preview, other = (torch.nn.functional.interpolate(
        torch.from_numpy(instant_smoke.summary(r.crop_after)).permute(2, 0, 1)[None], size=summary_px, mode="area")
        for r in (full, preview, other))
    mask = torch.nn.functional.interpolate(
        torch.from_numpy(inside).permute(2, 0, 1)[None], size=summary_px, mode="area") == 1
    assert mask.sum() > 100
    difference = (full - preview).abs()[mask]
    assert difference.mean() < 3.0  # levels of 255
    assert difference.mean() < (full - other).abs()[mask].mean() / 2  # far closer than another seed's


def test_proxy_images_render_when_read_and_travel_rendered(editor, photo):
    generator = editor.components.generator
    renders = []
    hook = generator.to_rgbs[-1].register_forward_hook(lambda *_: renders.append(1))  # one per full-size render
    try:
        result = editor.edit(photo, seed=3, progress=False, **instant_smoke.conditions("text+rgb"))
        during_edit = len(renders)
        names = [name for name, _ in result.proxies.items()]
    finally:
        hook.remove()
    # The global proxy's render (parsed), the blended hairstyle and the final image: nothing only shown.
    assert during_edit == 3
    assert names == ["reconstruction", "bald", "hairstyle", "hairstyle_blend", "color_stage1"]
    assert len(renders) == during_edit + 3  # reconstruction, bald, colour stage 1: when read
    travelled = pickle.loads(pickle.dumps(result.proxies))
    for name, image in result.proxies.items():
        assert np.array_equal(getattr(travelled, name), image)
    assert travelled.sketch is None
