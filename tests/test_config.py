"""Settings: typed, checked, frozen, with the official defaults; presets are complete configurations."""

import dataclasses

import pytest

from hairedit import EditConfig
from hairedit.config import PRESETS


def test_settings_round_trip_through_a_dict():
    for preset in PRESETS:
        config = EditConfig.for_preset(preset, {"text": {"steps": 7}, "seed": 4})
        assert EditConfig.from_dict(config.to_dict()) == config


def test_a_preset_is_a_complete_frozen_configuration():
    fast = EditConfig.for_preset("fast")
    assert fast.preset == "fast" and fast.fast is not None
    assert (fast.inversion.w_steps, fast.inversion.fs_steps, fast.text.steps) == (150, 50, 50)
    faithful = EditConfig.for_preset("faithful")
    assert faithful == EditConfig() and faithful.fast is None
    assert (faithful.inversion.w_steps, faithful.text.steps, faithful.color.stage2_steps) == (1100, 200, 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.text.steps = 3


def test_overrides_apply_on_top_of_the_chosen_preset():
    config = EditConfig.for_preset("fast", {"text": {"steps": 7}})
    assert config.text.steps == 7 and config.inversion.w_steps == 150
    assert config.overrides() == {"text": {"steps": 7}}
    # Switching preset keeps the overrides and takes everything else from the new preset.
    faithful = config.with_preset("faithful")
    assert faithful.preset == "faithful" and faithful.fast is None
    assert faithful.text.steps == 7 and faithful.inversion.w_steps == 1100


def test_a_fast_settings_dict_under_another_preset_runs_that_preset():
    # {"preset": "fast"} names the fast preset; asking for faithful gives the official step counts.
    settings = EditConfig.for_preset("fast").to_dict()
    config = EditConfig.from_dict(settings).with_preset("faithful")
    assert config.inversion.w_steps == 1100 and config.fast is None


def test_the_fast_section_belongs_to_the_fast_preset():
    with pytest.raises(ValueError, match="'fast' settings apply to the fast and instant presets only"):
        EditConfig.for_preset("faithful", {"fast": {"loss_px": 128}})
    tuned = EditConfig.for_preset("fast", {"fast": {"loss_px": 128}})
    assert tuned.fast.loss_px == 128
    assert tuned.with_preset("faithful").fast is None  # left behind, not refused


def test_numbers_are_converted_where_the_type_allows():
    config = EditConfig.from_dict({"preset": "fast", "inversion": {"learning_rate": 1}, "fast": {"loss_px": 128}})
    assert config.inversion.learning_rate == 1.0 and isinstance(config.inversion.learning_rate, float)
    assert config.fast.loss_px == 128


def test_settings_objects_and_any_seed_are_accepted():
    from hairedit.config import FastConfig

    config = EditConfig.from_dict({"preset": "fast", "fast": FastConfig(loss_px=64), "seed": -1})
    assert config.fast.loss_px == 64 and config.seed == -1
    assert config.with_seed(5).seed == 5


def test_smoke_settings_cut_every_loop():
    config = EditConfig.smoke(2, "fast")
    assert config.preset == "fast"
    assert {config.inversion.w_steps, config.inversion.fs_steps, config.text.steps, config.reference.steps,
            config.color.stage1_steps, config.color.stage2_steps} == {2}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"text": {"steps": "x"}}, "text.steps must be int, not 'x'"),
        ({"text": {"steps": 2.5}}, "text.steps must be int"),
        ({"text": {"steps": -1}}, "text.steps must not be negative"),
        ({"inversion": {"random_noise": 1}}, "inversion.random_noise must be bool"),
        ({"seed": True}, "seed must be int"),
        ({"text": 3}, "text must be a settings object"),
        ({"autocast": 16}, "autocast must be str or null"),
        ({"preset": "turbo"}, "unknown preset 'turbo'; choose from faithful, fast, instant"),
        ({"preset": "fast", "fast": {"loss_pixels": 64}}, "unknown FastConfig settings: ['loss_pixels']"),
    ],
)
def test_a_wrong_setting_is_named_with_what_it_should_be(values, message):
    with pytest.raises(ValueError) as error:
        EditConfig.from_dict(values)
    assert message in str(error.value)


def test_the_whole_photo_step_is_a_setting_of_every_preset():
    for preset in ("faithful", "fast", "instant"):
        assert EditConfig.for_preset(preset).whole_photo.inpaint == "lama"
    config = EditConfig.for_preset("instant", {"whole_photo": {"inpaint": "none", "hair_length_px": 300}})
    assert config.whole_photo.inpaint == "none" and config.whole_photo.hair_length_px == 300.0
    assert EditConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown whole_photo.inpaint 'telea'; choose from lama, opencv, none"):
        EditConfig.for_preset("fast", {"whole_photo": {"inpaint": "telea"}})
    with pytest.raises(ValueError, match="hair_length_px must not be negative"):
        EditConfig.for_preset("fast", {"whole_photo": {"hair_length_px": -5}})
