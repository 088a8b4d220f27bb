"""The whole HairCLIPv2 pipeline on small random networks of the official architectures,
on a real photo."""

import threading

import numpy as np
import pytest
import torch
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED, sample_sketch
from hairedit.errors import EditInterrupted, InputError
from hairedit.networks.bisenet import HAIR
from hairedit.progress import Reporter
from hairedit.stages.blending import blend_hairstyle, to_feature_size
from hairedit.stages.inversion import Inverter, image_tensor
from hairedit.stages.text import text_proxy

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
    return [p.loss for p in record if p.stage == stage]


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


def test_pixels_outside_the_edit_region_are_untouched(editor, photo):
    result = editor.edit(photo, hairstyle="afro hairstyle")
    edited = np.asarray(result.image)
    changed = np.any(edited != photo, axis=2)
    # Everything changed lies inside the edit region carried into the photo.
    region = result.masks.edit_region
    assert changed.any()
    ys, xs = np.nonzero(changed)
    crop_points = result.aligned.transform.to_crop(np.stack([xs, ys], 1).astype(float))
    scale = region.shape[0] / 1024
    inside = region[np.clip((crop_points[:, 1] * scale).astype(int), 0, region.shape[0] - 1),
                    np.clip((crop_points[:, 0] * scale).astype(int), 0, region.shape[0] - 1)]
    margin_px = 1024 * 0.05
    grown = np.asarray(torch.nn.functional.max_pool2d(torch.from_numpy(region)[None, None],
                       2 * int(margin_px * scale) + 1, 1, int(margin_px * scale))[0, 0])
    inside = grown[np.clip((crop_points[:, 1] * scale).astype(int), 0, region.shape[0] - 1),
                   np.clip((crop_points[:, 0] * scale).astype(int), 0, region.shape[0] - 1)]
    assert inside.all()


def test_blending_leaves_features_unchanged_outside_the_masks(editor, crop):
    c = editor.components
    rows = editor.rows
    inverter = Inverter(c.generator, c.lpips, c.pca, c.mean_latent, editor.config.inversion, rows)
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
        torch.manual_seed(0)
        return text_proxy(c, "long hair", source, editor.config.text, editor.rows, Reporter(), painted,
                          torch.Generator().manual_seed(0))

    no_mask = proxy(None)
    all_hair = torch.full((1, p, p), HAIR, dtype=torch.long)
    with_mask = proxy(all_hair)
    assert not torch.allclose(no_mask, with_mask)
    # And it steers towards the painted labels: more hair predicted than without the mask.
    hair_without = (c.parser(c.generator(no_mask)).logits.argmax(1) == HAIR).float().mean()
    hair_with = (c.parser(c.generator(with_mask)).logits.argmax(1) == HAIR).float().mean()
    assert hair_with >= hair_without


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
def test_every_mode_runs_end_to_end(editor, photo, crop, conditions):
    values = {"mirror": np.ascontiguousarray(photo[:, ::-1]), "strokes": sample_sketch(), "parse": editor.parse(crop)}
    result = editor.edit(photo, **{k: values.get(v, v) for k, v in conditions.items()})
    assert result.image.size == (512, 512)
    assert np.asarray(result.image).dtype == np.uint8


def test_second_edit_of_the_same_photo_reuses_the_inversion(editor, photo):
    editor.edit(photo, rgb="blue")
    record = []
    editor.edit(photo, rgb="green", callback=record.append)
    assert not [p for p in record if p.stage.startswith("inversion")]


def test_progress_without_previews_renders_no_images(editor, photo):
    record = []
    editor.edit(photo, rgb="green", callback=record.append, previews=False)
    assert record and all(p.preview is None for p in record)


def test_seeded_edits_are_reproducible(tmp_path, photo):
    a = HairEditor.from_random(config=EditConfig.smoke(2)).edit(photo, hairstyle="bob", seed=3)
    b = HairEditor.from_random(config=EditConfig.smoke(2)).edit(photo, hairstyle="bob", seed=3)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


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
