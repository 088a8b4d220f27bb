"""The whole HairCLIPv2 pipeline on small random networks of the official architectures,
on a real photo."""

import dataclasses
import threading

import numpy as np
import pytest
import torch
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.errors import EditInterrupted, InputError
from hairedit.labels import HAIR
from hairedit.progress import Reporter
from hairedit.samples import sample_sketch
from hairedit.stages.blending import blend_hairstyle, to_feature_size
from hairedit.stages.inversion import Inverter, image_tensor
from hairedit.stages.text import text_proxy
from tests import real_photos
from tests.edits import assert_only_the_edit_region_changed, whole_photo_region

STEPS = 8


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    return HairEditor.from_random(
        seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(STEPS), cache_dir=tmp_path_factory.mktemp("cache")
    )


@pytest.fixture(scope="module")
def crop(editor, photo):
    return editor.align(photo).crop


def _losses(record, stage):
    """The losses of ``stage``'s optimisation steps (its start is reported too, without one)."""
    return [p.loss for p in record if p.stage == stage and p.loss is not None]


def test_text_edit_records_falling_losses_and_keeps_the_photo_size(editor, photo):
    record = []
    result = editor.edit(photo, hairstyle="bob cut hairstyle", color="red hair", callback=record.append)
    assert result.image.size == (photo.shape[1], photo.shape[0])
    assert result.crop_after.size == (1024, 1024)
    for stage in ("inversion (W+)", "inversion (FS)", "text proxy", "colour proxy", "colour blending"):
        losses = _losses(record, stage)
        assert len(losses) == STEPS, stage
        assert np.mean(losses[-2:]) < losses[0], (stage, losses)
        previews = [p.preview for p in record if p.stage == stage and p.preview is not None]
        assert previews and previews[-1].shape == (64, 64, 3), stage
    assert result.proxies.bald is not None and result.proxies.hairstyle is not None
    assert set(result.timings) >= {"align", "inversion", "text proxy", "blending", "colour proxy", "paste back"}


def _assert_only_the_edit_region_changed(result, photo):
    assert_only_the_edit_region_changed(photo, np.asarray(result.image), result.masks.edit_region,
                                        result.aligned.transform, whole_photo_region(result.masks))


def test_pixels_outside_the_edit_region_are_untouched(editor, photo):
    _assert_only_the_edit_region_changed(editor.edit(photo, hairstyle="afro hairstyle"), photo)


def test_blending_leaves_features_unchanged_outside_the_masks(editor, crop):
    c = editor.components
    rows = editor.rows
    inverter = Inverter(c, editor.config.inversion, rows, seed=0)
    inversion = inverter.invert(crop, Reporter())
    source = image_tensor(crop, c.generator.size, c.device)
    labels = c.parser(source).logits.argmax(1, keepdim=True)
    size = rows.features_px
    # A local edit only: features move only where the (resized) local mask is non-zero.
    local_mask = torch.zeros(1, 1, 512, 512)
    local_mask[..., :200, :200] = 1
    local_latent = inversion.latent + 0.5
    blend = blend_hairstyle(c, inversion, labels, rows, editor.config.blending, local_latent=local_latent,
                            local_mask=local_mask)
    weight = to_feature_size(local_mask, size)
    outside = (weight.abs() < 1e-6).expand_as(blend.features)
    assert outside.any() and (~outside).any()
    assert torch.equal(blend.features[outside], inversion.features[outside])
    assert not torch.equal(blend.features[~outside], inversion.features[~outside])


def test_a_painted_mask_steers_the_text_proxy(editor, crop):
    c = editor.components
    source = image_tensor(crop, c.generator.size, c.device)
    p = c.parser.input_size_px

    def proxy(painted):
        return text_proxy(c, "long hair", source, editor.config.text, editor.rows, Reporter(), painted,
                          torch.Generator().manual_seed(0))

    no_mask = proxy(None)
    all_hair = torch.full((1, p, p), HAIR, dtype=torch.long)
    with_mask = proxy(all_hair)
    assert not torch.allclose(no_mask, with_mask)
    # And it steers towards the painted labels: more hair predicted than without the mask.
    hair_without = (c.parser(c.generator(no_mask)).logits.argmax(1) == HAIR).float().mean()
    hair_with = (c.parser(c.generator(with_mask)).logits.argmax(1) == HAIR).float().mean()
    assert hair_with > hair_without


@pytest.mark.parametrize(
    "conditions",
    [
        {"hairstyle_ref": "mirror"},
        {"sketch": "strokes"},
        {"hairstyle": "bob cut hairstyle", "sketch": "strokes"},
        {"color": "blond hair"},
        {"color_ref": "mirror"},
        {"hairstyle_ref": "mirror", "mask": "parse", "rgb": "#d4a373"},
    ],
    ids=["reference", "sketch", "text+sketch", "colour-text", "colour-reference", "reference+mask+rgb"],
)
def test_every_mode_changes_the_hair_region_and_only_it(editor, photo, crop, conditions):
    values = {"mirror": np.ascontiguousarray(photo[:, ::-1]), "strokes": sample_sketch(), "parse": editor.parse(crop)}
    result = editor.edit(photo, **{k: values.get(v, v) for k, v in conditions.items()})
    assert result.image.size == (512, 512)
    _assert_only_the_edit_region_changed(result, photo)


def test_second_edit_of_the_same_photo_reuses_the_inversion(editor, photo):
    editor.edit(photo, rgb="blue")
    record = []
    editor.edit(photo, rgb="green", callback=record.append)
    assert not [p for p in record if p.stage.startswith("inversion")]


def test_another_edit_of_a_photo_finds_and_aligns_its_faces_once(monkeypatch):
    from hairedit import photo_cache

    calls = []
    for name in ("detect_faces", "align_face"):
        original = getattr(photo_cache, name)
        monkeypatch.setattr(photo_cache, name, lambda *args, _f=original, _n=name: calls.append(_n) or _f(*args))
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1))
    group = real_photos.group_photo()
    faces = editor.detect_faces(group)  # as the UI does on upload
    assert len(faces) == 6 and calls == ["detect_faces"]
    assert not editor.align(group, 1).crop.flags.writeable  # shared, so never changed in place
    editor.edit(group, rgb="blue", face=1, progress=False)  # not the instant preset: no photo state kept
    assert calls == ["detect_faces", "align_face"]
    editor.align(group, 2)
    assert calls == ["detect_faces", "align_face", "align_face"]  # the photo once, each face once
    editor.align(np.ascontiguousarray(group[:, ::-1]), 0)  # other pixels: found anew
    assert calls[3:] == ["detect_faces", "align_face"]
    found = editor.photo_cache.found
    for shift in range(found.max_photos):
        found.faces(np.full((64, 64, 3), shift, np.uint8))  # no face: quick to search
    editor.detect_faces(group)  # the group photo was used longest ago, and went
    assert calls.count("detect_faces") == 2 + found.max_photos + 1


def test_progress_without_previews_renders_no_images(editor, photo):
    record = []
    editor.edit(photo, rgb="green", callback=record.append, previews=False)
    assert record and all(p.preview is None for p in record)


def test_the_same_seed_gives_the_same_pixels_and_another_seed_others(tmp_path, photo):
    def editor():
        return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(2), cache_dir=tmp_path)

    first_editor = editor()
    conditions = {"hairstyle": "bob cut hairstyle", "rgb": "#d4a373", "progress": False}
    first = np.asarray(first_editor.edit(photo, seed=3, **conditions).image)
    assert not np.array_equal(first, photo)  # the edit changes pixels, so the seed has something to decide
    # Again on the same editor (networks built, inversion cached), then on a new editor.
    again = np.asarray(first_editor.edit(photo, seed=3, **conditions).image)
    fresh = np.asarray(editor().edit(photo, seed=3, **conditions).image)
    assert np.array_equal(first, again) and np.array_equal(first, fresh)
    other = np.asarray(first_editor.edit(photo, seed=4, **conditions).image)
    assert not np.array_equal(first, other)


def test_an_edit_leaves_the_global_random_stream_alone(tmp_path, photo):
    state = torch.get_rng_state()
    HairEditor.from_random(config=EditConfig.smoke(1)).edit(photo, hairstyle="bob", progress=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_each_loop_hands_on_the_latent_its_last_loss_was_computed_for(editor, crop):
    """As the official loops (they keep ``latent_in``), the last Adam update is discarded: a
    one-step loop hands on its start, an n-step loop the latent after n - 1 updates."""
    c = editor.components
    source = image_tensor(crop, c.generator.size, c.device)
    mean = c.mean_latent.view(1, 1, -1).repeat(1, c.generator.n_latent, 1)

    def text(steps):
        config = dataclasses.replace(editor.config.text, steps=steps)
        return text_proxy(c, "long hair", source, config, editor.rows, Reporter(), None,
                          torch.Generator().manual_seed(0))

    def inversion(steps):
        config = dataclasses.replace(editor.config.inversion, w_steps=steps)
        inverter = Inverter(c, config, editor.rows, seed=0)
        return inverter.invert_w(crop, Reporter())

    for run in (text, inversion):
        assert torch.equal(run(0), mean) and torch.equal(run(1), mean)
        after_one_update, after_two_updates = run(2), run(3)
        assert not torch.equal(after_one_update, mean) and not torch.equal(after_two_updates, after_one_update)


def test_cancel_stops_an_edit(editor, photo):
    cancel = threading.Event()

    def stop_after_two(progress):
        if progress.step == 2:
            cancel.set()

    with pytest.raises(EditInterrupted):
        editor.edit(photo, hairstyle="mohawk", callback=stop_after_two, cancel=cancel)


@pytest.mark.parametrize(
    "conditions, message",
    [
        ({}, "nothing to do"),
        ({"hairstyle": "bob", "hairstyle_ref": "x.png"}, "cannot be combined"),
        ({"rgb": "300,0,0"}, "between 0 and 255"),
        ({"rgb": "notacolour"}, "not a colour"),
        ({"color": "red", "rgb": "red"}, "one colour"),
        ({"mask": np.zeros((512, 512), np.uint8)}, "steers a text or reference"),
        ({"sketch": np.zeros((512, 300), np.uint8)}, "square"),
        ({"hairstyle_ref": "/no/such/file.jpg"}, "no such file"),
    ],
)
def test_bad_conditions_are_refused_before_any_work(editor, photo, conditions, message):
    record = []
    with pytest.raises(InputError, match=message):
        editor.edit(photo, callback=record.append, **conditions)
    assert record == []


def test_a_face_that_is_not_there_is_refused_before_any_progress(editor, photo):
    record = []
    with pytest.raises(InputError, match="1 face"):
        editor.edit(photo, rgb="red", face=9, callback=record.append)
    assert record == []


def test_gpu_options_run_on_cpu(photo):
    """Mixed precision runs a whole edit; compiled synthesis gives the uncompiled images."""
    import dataclasses

    from hairedit.pipeline import _precision

    config = dataclasses.replace(EditConfig.smoke(1), autocast="bf16")
    result = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config).edit(photo, rgb="red")
    assert result.image.size == (512, 512)
    editor = HairEditor.from_random(config=dataclasses.replace(EditConfig.smoke(1), compile=True,
                                                               compile_backend="eager"))
    generator = editor.components.generator
    latent = editor.components.mean_latent.view(1, 1, -1).repeat(1, generator.n_latent, 1)
    expected = generator.synthesis(latent).image
    with _precision(editor.config, editor.components):
        assert "synthesis" in vars(generator)
        torch.testing.assert_close(generator.synthesis(latent).image, expected)


def test_a_random_text_start_is_drawn_from_its_seeded_stream(editor, crop):
    """The official ``from_mean=False``: a random mapped latent, truncated towards the mean."""
    c = editor.components
    source = image_tensor(crop, c.generator.size, c.device)
    config = dataclasses.replace(editor.config.text, steps=0, from_mean=False)

    def start(seed):
        return text_proxy(c, "long hair", source, config, editor.rows, Reporter(), None, None, None,
                          torch.Generator().manual_seed(seed))

    mean = c.mean_latent.view(1, 1, -1).repeat(1, c.generator.n_latent, 1)
    assert torch.equal(start(1), start(1)) and not torch.equal(start(1), start(2))
    assert not torch.equal(start(1), mean)
