"""Settings: typed, checked, with the official defaults."""

import pytest

from hairedit import EditConfig


def test_settings_round_trip_through_a_dict():
    config = EditConfig.preset_config("fast")
    assert EditConfig.from_dict(config.to_dict()) == config


def test_numbers_are_converted_where_the_type_allows():
    config = EditConfig.from_dict({"inversion": {"learning_rate": 1}, "fast": {"loss_px": 128}})
    assert config.inversion.learning_rate == 1.0 and isinstance(config.inversion.learning_rate, float)
    assert config.fast.loss_px == 128


def test_settings_objects_and_any_seed_are_accepted():
    from hairedit.config import FastConfig

    config = EditConfig.from_dict({"fast": FastConfig(loss_px=64), "seed": -1})
    assert config.fast.loss_px == 64 and config.seed == -1


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
        ({"preset": "turbo"}, "unknown preset 'turbo'; choose from faithful, fast"),
        ({"fast": {"loss_pixels": 64}}, "unknown FastConfig settings: ['loss_pixels']"),
    ],
)
def test_a_wrong_setting_is_named_with_what_it_should_be(values, message):
    with pytest.raises(ValueError) as error:
        EditConfig.from_dict(values)
    assert message in str(error.value)
