"""The instant preset: every mode and combination by forward passes (encoder, HairCLIP's
mapper), on small random networks of the official architectures and a real photo."""

import numpy as np
import pytest
import torch
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED, sample_sketch
from hairedit.labels import FACE, HAIR
from tests.edits import assert_only_the_edit_region_changed


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(2, "instant"),
                                  cache_dir=tmp_path_factory.mktemp("cache"))


def _stages(editor, photo, **conditions):
    record = []
    result = editor.edit(photo, callback=record.append, previews=False, **conditions)
    return result, {progress.stage for progress in record}


@pytest.mark.parametrize(
    "conditions",
    [
        {"hairstyle": "bob cut hairstyle"},
        {"hairstyle_ref": "mirror"},
        {"sketch": "strokes"},
        {"color": "blond hair"},
        {"color_ref": "mirror"},
        {"rgb": "#d4a373"},
        {"hairstyle": "afro hairstyle", "color": "purple hair"},
        {"hairstyle_ref": "mirror", "mask": "all hair", "rgb": "crimson"},
        {"hairstyle": "long hair", "sketch": "strokes", "color_ref": "mirror"},
    ],
    ids=["text", "reference", "sketch", "colour-text", "colour-reference", "rgb", "text+colour",
         "reference+mask+rgb", "text+sketch+colour-reference"],
)
def test_every_mode_runs_by_forward_passes_and_changes_only_the_hair_region(editor, photo, conditions):
    values = {"mirror": np.ascontiguousarray(photo[:, ::-1]), "strokes": sample_sketch(),
              "all hair": np.full((512, 512), HAIR, np.uint8)}
    result, stages = _stages(editor, photo, **{k: values.get(v, v) for k, v in conditions.items()})
    assert_only_the_edit_region_changed(photo, np.asarray(result.image), result.masks.edit_region,
                                        result.aligned.transform)
    assert stages == set()  # no optimisation loop ran
    if "hairstyle" in conditions or "hairstyle_ref" in conditions:
        assert "mapper proxy" in result.timings and "reference proxy" not in result.timings


def test_an_rgb_colour_is_given_to_the_mapper_as_the_photos_hair_recoloured(editor, photo):
    from hairedit.stages.mapper import recoloured_hair

    image = (0.2 + 0.1 * torch.rand(1, 3, 32, 32)) * 2 - 1  # dark hair, its shade varying by a third
    hair = torch.zeros(1, 1, 32, 32)
    hair[..., :10, :] = 1
    reference = recoloured_hair(image, hair, (200, 40, 40))
    mean = ((reference.image + 1) / 2 * hair).sum((2, 3)) / hair.sum()
    torch.testing.assert_close(mean, torch.tensor([[200, 40, 40]]) / 255, atol=0.02, rtol=0)
    assert torch.equal(reference.image[..., 10:, :], image[..., 10:, :])  # only the hair is recoloured
    red, blue = (editor.edit(photo, rgb=rgb, progress=False).proxies.color_stage1 for rgb in ("red", "blue"))
    assert not np.array_equal(red, blue)


def test_an_rgb_colour_can_use_the_official_loss_instead(photo):
    config = EditConfig.for_preset("instant", {"color": {"stage1_steps": 2}})
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config)
    _, stages = _stages(editor, photo, rgb="red")
    assert stages == {"colour proxy"}


def test_text_and_reference_conditions_move_the_mapper_latent(editor, photo):
    def hairstyle_image(**conditions):
        return editor.edit(photo, progress=False, **conditions).proxies.hairstyle

    bob, afro = hairstyle_image(hairstyle="bob cut hairstyle"), hairstyle_image(hairstyle="afro hairstyle")
    assert not np.array_equal(bob, afro)
    assert not np.array_equal(bob, hairstyle_image(hairstyle_ref=np.ascontiguousarray(photo[:, ::-1])))


def test_a_painted_mask_is_the_blending_mask(editor, photo):
    def blend(label):
        mask = np.full((512, 512), FACE, np.uint8)
        mask[:200] = label
        return editor.edit(photo, hairstyle="long hair", mask=mask, progress=False).proxies.hairstyle_blend

    assert not np.array_equal(blend(HAIR), blend(FACE))


def test_the_encoder_inversion_is_cached_and_keyed_on_the_encoder(editor, photo, tmp_path):
    first = editor.edit(photo, rgb="red", progress=False)
    again = editor.edit(photo, rgb="red", progress=False)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    entries = len(editor.cache.entries())
    other = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=editor.config, cache_dir=editor.cache.folder)
    other.components.e4e.latent_avg += 0.01  # another encoder: another inversion
    other.edit(photo, rgb="red", progress=False)
    assert len(editor.cache.entries()) == entries + 1


def test_the_same_seed_gives_the_same_pixels(editor, photo):
    results = [np.asarray(editor.edit(photo, rgb="crimson", seed=seed, progress=False).image) for seed in (5, 5)]
    assert np.array_equal(*results)


def test_a_decoder_other_than_the_generator_is_reported(official_dir, tmp_path):
    for name in ("ffhq.pt", "e4e_ffhq_encode.pt"):  # linked, so that the lock file goes here, not there
        (tmp_path / name).symlink_to(official_dir / name)
    editor = HairEditor.from_pretrained(tmp_path, device="cpu", config=EditConfig.for_preset("instant"),
                                        download=False)
    editor.components.e4e  # noqa: B018 (loading is what is tested)
    assert any("e4e_ffhq_encode.pt was trained with another StyleGAN2" in warning
               for warning in editor.components.warnings)


def test_instant_settings_belong_to_the_instant_preset():
    config = EditConfig.for_preset("instant", {"instant": {"mapper_strength": 0.2}})
    assert config.instant.mapper_strength == 0.2 and config.color.stage2_steps == 0
    with pytest.raises(ValueError, match="'instant' settings apply to the instant preset only"):
        EditConfig.for_preset("fast", {"instant": {"mapper_strength": 0.2}})
    assert config.with_preset("faithful").instant is None
