"""The instant preset: every mode and combination by forward passes (encoder, HairCLIP's
mapper), on small random networks of the official architectures and a real photo."""

import threading

import numpy as np
import pytest
import torch
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.errors import EditInterrupted
from hairedit.labels import FACE, HAIR
from hairedit.samples import sample_sketch
from hairedit.weight_needs import files_needed
from tests.edits import assert_only_the_edit_region_changed, whole_photo_region


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(2, "instant"),
                                  cache_dir=tmp_path_factory.mktemp("cache"))


def _loops(editor, photo, **conditions):
    """The result, and the stages that took optimisation steps (the only reports with a loss)."""
    record = []
    result = editor.edit(photo, callback=record.append, previews=False, **conditions)
    return result, {progress.stage for progress in record if progress.loss is not None}


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
    result, loops = _loops(editor, photo, **{k: values.get(v, v) for k, v in conditions.items()})
    assert_only_the_edit_region_changed(photo, np.asarray(result.image), result.masks.edit_region,
                                        result.aligned.transform, whole_photo_region(result.masks))
    assert loops == set()  # no optimisation loop ran
    if "hairstyle" in conditions or "hairstyle_ref" in conditions:
        assert "mapper proxy" in result.timings and "reference proxy" not in result.timings


def test_every_stage_shows_its_start_and_end(photo):
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1, "instant"))
    record = []
    editor.edit(photo, hairstyle="bob cut hairstyle", rgb="red", callback=record.append, previews=False)
    stages = ["align", "inversion (encoder)", "bald proxy", "mapper proxy", "blending", "colour proxy", "paste back",
              "whole photo"]
    starts_and_ends = [(s, step, 1) for s in stages for step in (0, 1)]
    assert [(p.stage, p.step, p.total) for p in record] == starts_and_ends[1:]  # align: its end only


@pytest.mark.parametrize("network, conditions", [
    ("e4e", {"rgb": "red"}),  # the inversion
    ("bald_mapper", {"hairstyle": "bob cut hairstyle"}),
    ("hairclip.mapper", {"hairstyle": "bob cut hairstyle"}),
    ("sketch_encoder", {"sketch": "strokes"}),
])
def test_stop_is_seen_in_stages_of_forward_passes_only(photo, network, conditions):
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1, "instant"))
    cancel = threading.Event()
    module = editor.components
    for name in network.split("."):
        module = getattr(module, name)
    module.register_forward_hook(lambda *_: cancel.set())
    conditions = {k: sample_sketch() if v == "strokes" else v for k, v in conditions.items()}
    with pytest.raises(EditInterrupted):
        editor.edit(photo, cancel=cancel, progress=False, **conditions)


def test_an_inversion_shows_when_computed_not_when_reused(photo, tmp_path):
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1, "instant"), cache_dir=tmp_path)

    def inversion_stages():
        record = []
        editor.edit(photo, rgb="red", callback=record.append, previews=False)
        return {p.stage for p in record if p.stage.startswith("inversion")}  # what the page says "reused" by

    assert inversion_stages() == {"inversion (encoder)"}
    assert inversion_stages() == set()


NETWORK_FILES = {  # the networks an edit may load -> their pretrained files (CLIP: the random HairCLIP borrows it)
    "_generator_and_mean": "ffhq.pt", "parser": "seg.pth", "bald_mapper": "bald_proxy.pt",
    "sketch_encoder": "sketch_proxy.pt", "e4e": "e4e_ffhq_encode.pt", "hairclip": "hairclip.pt",
    "vgg": "vgg16-397923af.pth", "lpips": "lpips_vgg_v0.1.pth", "landmarks": "3DFAN4-7835d9f11d.pth.tar",
}


@pytest.mark.parametrize("overrides, loop_networks", [
    ({}, set()),
    ({"inversion": {"fs_steps": 1}}, {"vgg", "lpips", "pca"}),
    ({"color": {"stage2_steps": 1}}, {"vgg", "lpips"}),
    ({"color": {"stage1_steps": 1}}, set()),
])
def test_an_instant_edit_loads_and_needs_only_what_its_settings_run(photo, tmp_path, overrides, loop_networks):
    """Forward passes need neither VGG16, LPIPS nor the PCA prior (nor their download); the
    files said to be needed cover every network the edit loads."""
    config = EditConfig.for_preset("instant", {**overrides, "step_cap": 1})
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config, cache_dir=tmp_path)  # keys: fingerprints
    editor.edit(photo, hairstyle="bob cut hairstyle", sketch=sample_sketch(), rgb="red", progress=False)
    loaded = set(editor.components.__dict__)
    assert loaded & {"vgg", "lpips", "pca", "landmarks"} == loop_networks
    needed = set(files_needed(config))
    assert {NETWORK_FILES[name] for name in loaded & set(NETWORK_FILES)} <= needed
    loop_files = {"vgg16-397923af.pth", "lpips_vgg_v0.1.pth", "3DFAN4-7835d9f11d.pth.tar", "clip_vit_b32.safetensors"}
    assert needed & loop_files == {NETWORK_FILES[name] for name in loop_networks - {"pca"}} | (
        {"clip_vit_b32.safetensors"} if "stage1_steps" in str(overrides) else set())
    if not overrides:
        assert needed == set(files_needed("instant"))


def test_an_rgb_colour_needs_the_mapper_only_where_it_makes_the_colour_proxy(photo, tmp_path):
    optimised = EditConfig.for_preset("instant", {"color": {"stage1_steps": 1}, "step_cap": 1})
    assert "hairclip.pt" in files_needed("instant", ["rgb"])
    assert "hairclip.pt" not in files_needed(optimised, ["rgb"])
    assert "hairclip.pt" in files_needed(optimised, ["rgb", "hairstyle"])
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=optimised, cache_dir=tmp_path)
    editor.edit(photo, rgb="red", progress=False)
    assert "hairclip" not in editor.components.__dict__


@pytest.mark.parametrize("preset", ["faithful", "fast", "instant"])
def test_the_networks_a_preset_uses_load_before_its_edits(photo, preset):
    """Batch rows and eval's presets load first, so that no edit's seconds include loading."""
    config = EditConfig.smoke(1, preset)
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config)
    editor.load_networks()
    loaded = set(editor.components.__dict__)
    assert {"_generator_and_mean", "parser", "bald_mapper", "sketch_encoder"} <= loaded
    assert ("e4e" in loaded) == ("hairclip" in loaded) == (preset == "instant")
    editor.edit(photo, hairstyle="bob cut hairstyle", sketch=sample_sketch(), rgb="red", progress=False)
    editor.edit(photo, hairstyle_ref=photo[:, ::-1], color="blond hair", progress=False)
    networks = {name for name in editor.components.__dict__ if not name.endswith("_fingerprint")}  # the photo cache's keys
    assert networks == loaded  # nothing more loaded during the edits


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
    _, loops = _loops(editor, photo, rgb="red")
    assert loops == {"colour proxy"}


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
    assert "e4e_ffhq_encode.pt was trained with another StyleGAN2" in editor.components.decoder_warnings["e4e"]


def test_a_networks_warning_goes_with_the_edits_that_use_it(photo):
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1, "instant"))
    editor.components.pretrained = True  # checks decoders as it loads; random files hold none to compare

    def decoder_warnings(**options):
        result = editor.edit(photo, progress=False, **options)
        return {warning.split()[0] for warning in result.warnings if "decoder" in warning}

    assert decoder_warnings(sketch=sample_sketch()) == {"e4e_ffhq_encode.pt"}  # a sketch needs no HairCLIP
    assert decoder_warnings(hairstyle="bob cut hairstyle") == {"e4e_ffhq_encode.pt", "hairclip.pt"}
    assert decoder_warnings(sketch=sample_sketch()) == {"e4e_ffhq_encode.pt"}
    assert decoder_warnings(rgb="red", preset="faithful") == set()  # uses neither network


def test_instant_settings_belong_to_the_instant_preset():
    config = EditConfig.for_preset("instant", {"instant": {"mapper_strength": 0.2}})
    assert config.instant.mapper_strength == 0.2 and config.color.stage2_steps == 0
    with pytest.raises(ValueError, match="'instant' settings apply to the instant preset only"):
        EditConfig.for_preset("fast", {"instant": {"mapper_strength": 0.2}})
    assert config.with_preset("faithful").instant is None
