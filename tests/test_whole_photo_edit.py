"""The whole-photo step inside an edit: its stage, its masks, --inpaint, --hair-length,
--face all with --save-intermediates (small random networks: the parses are meaningless,
so these check where pixels may change, not what the hair looks like)."""

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit import EditConfig
from hairedit.cli import main
from hairedit.commands import read_config
from hairedit.pipeline import HairEditor


def _changed(result, photo) -> np.ndarray:
    return np.any(np.asarray(result.image) != photo, axis=2)


@pytest.fixture(scope="module")
def edits():
    """The same instant smoke edit of the astronaut with --inpaint none and opencv."""
    photo = data.astronaut()
    results = {}
    for inpaint in ("none", "opencv"):
        config = EditConfig.smoke(preset="instant")
        config = EditConfig.for_preset("instant", {**config.overrides(), "whole_photo": {"inpaint": inpaint}})
        editor = HairEditor.from_random(seed=3, config=config)
        results[inpaint] = editor.edit(photo, hairstyle="bob cut hairstyle", seed=1, progress=False)
    return photo, results


def test_inpaint_none_changes_only_what_paste_back_may_change(edits):
    photo, results = edits
    none = results["none"]
    assert "whole photo" in none.timings
    assert not none.masks.inpaint_region.any()
    assert not (_changed(none, photo) & ~none.masks.paste_region).any()


def test_the_whole_photo_step_changes_only_its_own_regions(edits):
    photo, results = edits
    none, filled = results["none"], results["opencv"]
    masks = filled.masks
    assert masks.inpaint_region.shape == masks.hair_photo_before.shape == photo.shape[:2]
    assert masks.inpaint_region.any()  # with these seeds the random parser's hair runs past the crop
    differs = np.any(np.asarray(filled.image) != np.asarray(none.image), axis=2)
    assert differs.any() and not (differs & ~(masks.inpaint_region | masks.hair_photo_after)).any()


def test_lama_without_its_file_fills_as_opencv_does_and_says_so(edits):
    photo, results = edits
    config = EditConfig.smoke(preset="instant")
    editor = HairEditor.from_random(seed=3, config=EditConfig.for_preset("instant", config.overrides()))
    editor.components._loaders["lama"] = lambda: None  # as Components.pretrained gives where big-lama.ckpt is absent
    result = editor.edit(photo, hairstyle="bob cut hairstyle", seed=1, progress=False)
    assert np.array_equal(np.asarray(result.image), np.asarray(results["opencv"].image))
    assert any("big-lama.ckpt is not in the weights folder" in warning for warning in result.warnings)
    assert not any("big-lama.ckpt" in warning for warning in results["opencv"].warnings)


def test_inpaint_and_hair_length_options_set_the_whole_photo_settings():
    args = _parse(["edit", "p.jpg", "-o", "o.png", "--rgb", "red", "--inpaint", "opencv", "--hair-length", "300"])
    assert read_config(args).whole_photo.inpaint == "opencv"
    assert read_config(args).whole_photo.hair_length_px == 300.0
    assert read_config(_parse(["edit", "p.jpg", "-o", "o.png", "--rgb", "red"])).whole_photo.inpaint == "lama"
    assert _parse(["edit", "p.jpg", "-o", "o.png", "--face", "all"]).face == "all"


def test_lama_is_a_file_edits_use_only_where_lama_fills():
    from hairedit.weight_needs import files_needed, files_used

    assert "big-lama.ckpt" in files_used("instant") and "big-lama.ckpt" not in files_needed("faithful")
    for inpaint in ("opencv", "none"):
        assert "big-lama.ckpt" not in files_used(EditConfig.for_preset("fast", {"whole_photo": {"inpaint": inpaint}}))


@pytest.mark.parametrize("option, value", [("--face", "everyone"), ("--inpaint", "telea"), ("--hair-length", "-3")])
def test_bad_whole_photo_options_are_refused_in_one_line(option, value, capsys):
    with pytest.raises(SystemExit):
        main(["edit", "p.jpg", "-o", "o.png", option, value])
    assert value in capsys.readouterr().err


def test_face_all_writes_each_faces_intermediates_and_changes_nothing_else(tmp_path):
    astronaut = data.astronaut()
    photo = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    Image.fromarray(photo).save(tmp_path / "two.png")
    folder = tmp_path / "steps"
    assert main(["edit", str(tmp_path / "two.png"), "-o", str(tmp_path / "out.png"), "--hairstyle", "bob cut hairstyle",
                 "--face", "all", "--smoke", "--preset", "instant", "--save-intermediates", str(folder)]) == 0
    allowed = np.zeros(photo.shape[:2], bool)
    for face in (0, 1):
        for name in ("paste_region", "hair_photo_before", "hair_photo_after", "inpaint_region"):
            mask = np.asarray(Image.open(folder / f"face-{face}" / f"{name}.png"))
            assert mask.shape == photo.shape[:2]
            if name != "hair_photo_before":
                allowed |= mask > 127
        assert (folder / f"face-{face}" / "crop_after.png").is_file()
    changed = np.any(np.asarray(Image.open(tmp_path / "out.png").convert("RGB")) != photo, axis=2)
    assert changed[:, :512].any() and changed[:, 512:].any()  # both faces edited
    assert not (changed & ~allowed).any()


def _parse(argv):
    import argparse

    from hairedit import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    return parser.parse_args(argv)
