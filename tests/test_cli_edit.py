"""`hairedit edit` beyond the happy path: checks before work, Ctrl-C, progress, settings,
intermediates a user can paint on, photos that are not square. (tests/test_cli.py runs every
mode once.)"""

import argparse
import json
import shlex

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit import commands
from hairedit.cli import main
from hairedit.commands import SMOKE_STEPS, read_config
from hairedit.conditions import load_mask
from hairedit.config import PRESETS, EditConfig
from hairedit.pipeline import HairEditor


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    photo = data.astronaut()
    Image.fromarray(photo).save(folder / "me.png")
    # A landscape photo: the face is pasted back into a frame wider than it is tall.
    wide = np.full((512, 704, 3), 90, np.uint8)
    wide[:, 96:608] = photo
    Image.fromarray(wide).save(folder / "wide.jpg", quality=95)
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(folder / "friend.png")
    sketch = np.zeros((512, 512), np.uint8)
    sketch[100:300, 120:124] = 255
    Image.fromarray(sketch).save(folder / "sketch.png")
    Image.fromarray(sketch[:, :400]).save(folder / "narrow_sketch.png")
    (folder / "quick.json").write_text(json.dumps({"inversion": {"w_steps": 2, "fs_steps": 2}, "text": {"steps": 2},
                                                   "reference": {"steps": 2}, "color": {"stage1_steps": 2, "stage2_steps": 2}}))
    (folder / "broken.json").write_text("{not json")
    (folder / "typo.json").write_text(json.dumps({"text": {"stepz": 2}}))
    (folder / "turbo.json").write_text(json.dumps({"preset": "turbo"}))
    (folder / "many.json").write_text(json.dumps({"text": {"steps": "many"}}))
    return folder


def edit(files, out, *options):
    return main(["edit", str(files / "me.png"), "-o", str(out), "--smoke", "--config", str(files / "quick.json"),
                 *[str(o).format(files=files) for o in options]])


@pytest.mark.parametrize(
    "options, message",
    [
        (["--rgb", "red", "-o", "{out_dir}/no/such/folder/out.png"], "does not exist"),
        (["--rgb", "red", "-o", "/proc/out.png"], "cannot write into /proc ("),  # found before the edit, not after
        (["--rgb", "red", "-o", "{out_dir}/" + "x" * 300 + ".png"], "is 304 bytes long; the file system allows at most"),
        (["--rgb", "red", "-o", "{files}/me.png/out.png"], "me.png is a file, not a folder"),
        (["--rgb", "red", "-o", "{out_dir}/out.xyz"], "unknown image extension"),
        (["--rgb", "red", "--device", "gpu"], "unknown device 'gpu'"),
        (["--rgb", "red", "--device", "cuda:7"], "not available here"),
        (["--rgb", "red", "--config", "{files}/broken.json"], "broken.json is not valid JSON"),
        (["--rgb", "red", "--config", '{{"text": {{"steps": 2}}'], "the inline settings is not valid JSON"),
        (["--rgb", "red", "--config", "[1, 2]"], "cannot read it"),
        (["--rgb", "red", "--config", "{files}/typo.json"], "stepz"),
        (["--rgb", "red", "--config", "{files}/missing.json"], "missing.json"),
        (["--rgb", "red", "--config", "{files}/turbo.json"], "unknown preset 'turbo'"),
        (["--rgb", "red", "--config", "{files}/many.json"], "text.steps must be int, not 'many'"),
        (["--rgb", "crimsonn"], "not a colour"),
        (["--sketch", "{files}/narrow_sketch.png"], "narrow_sketch.png is 400x512"),
        (["--sketch", "{files}/me.png"], "does not look like a sketch"),
        (["--hairstyle", "bob", "--mask", "{files}/sketch.png"], "is black and white"),
        (["--hairstyle-ref", "{files}/nobody.png"], "nobody.png: no such file"),
        (["--color-ref", "{files}/quick.json"], "quick.json is not a readable image"),
        (["--mask", "{files}/sketch.png"], "give --hairstyle or --hairstyle-ref too"),
        (["--hairstyle", "  "], "text is empty"),
        (["--rgb", "red", "--color", "red hair"], "give one colour"),
        (["--rgb", "red", "--save-intermediates", "{files}/me.png"], "needs a folder"),
    ],
)
def test_bad_options_fail_in_one_line_before_any_work(files, tmp_path, capsys, monkeypatch, options, message):
    def no_work(*args, **kwargs):
        raise AssertionError("the edit started before the options were checked")

    monkeypatch.setattr(HairEditor, "edit", no_work)
    out = tmp_path / "out.png"
    options = [o.format(files=files, out_dir=tmp_path) for o in options]
    argv = ["edit", str(files / "me.png"), "-o", str(out), "--smoke", "--config", str(files / "quick.json"), *options]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hairedit: error: ") and message in err
    assert sorted(tmp_path.iterdir()) == []


def test_existing_intermediates_are_kept_unless_overwrite(files, tmp_path, capsys, monkeypatch):
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "crop_after.png").write_bytes(b"keep me")
    monkeypatch.setattr(HairEditor, "edit", lambda *a, **k: pytest.fail("the edit started"))
    assert edit(files, tmp_path / "out.png", "--rgb", "red", "--save-intermediates", steps) == 2
    assert "crop_after.png" in capsys.readouterr().err
    assert (steps / "crop_after.png").read_bytes() == b"keep me"
    assert not (tmp_path / "out.png").exists()


def test_ctrl_c_stops_the_edit_and_writes_nothing(files, tmp_path, capsys, monkeypatch, ctrl_c):
    report = commands.ProgressBars.__call__

    def interrupt_on_first_step(bars, progress):
        report(bars, progress)
        ctrl_c()

    monkeypatch.setattr(commands.ProgressBars, "__call__", interrupt_on_first_step)
    code = edit(files, tmp_path / "out.png", "--hairstyle", "bob cut hairstyle", "--save-intermediates",
                tmp_path / "steps")
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted; nothing was written" in err and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == []  # no output, no half-written temporary file


def test_a_successful_edit_shows_progress_per_stage_and_says_smoke_output_is_meaningless(files, tmp_path, capsys):
    out = tmp_path / "out.webp"
    assert edit(files, out, "--hairstyle", "bob cut hairstyle", "--rgb", "40,40,200") == 0
    captured = capsys.readouterr()
    for stage in ("inversion (W+)", "inversion (FS)", "text proxy", "colour proxy"):
        assert stage in captured.err
    assert "2/2" in captured.err and "loss=" in captured.err
    assert captured.err.strip().splitlines()[-1] == "hairedit: --smoke: small random networks, the output is meaningless."
    assert captured.out.startswith(f"wrote {out} in ")
    assert Image.open(out).format == "WEBP" and Image.open(out).size == (512, 512)


def test_a_landscape_photo_comes_back_whole_with_only_the_hair_region_changed(files, tmp_path):
    out = tmp_path / "wide_edited.png"
    code = main(["edit", str(files / "wide.jpg"), "-o", str(out), "--smoke", "--config", str(files / "quick.json"),
                 "--hairstyle-ref", str(files / "friend.png"), "--sketch", str(files / "sketch.png"), "--rgb", "crimson"])
    assert code == 0
    before = np.asarray(Image.open(files / "wide.jpg").convert("RGB"))
    after = np.asarray(Image.open(out))
    assert after.shape == before.shape == (512, 704, 3)
    assert np.array_equal(after[:, :40], before[:, :40])  # the grey margin, far from the hair
    assert not np.array_equal(after, before)


def test_intermediates_include_a_parse_to_paint_on_and_it_works_as_a_mask(files, tmp_path):
    steps = tmp_path / "steps"
    assert edit(files, tmp_path / "first.png", "--sketch", "{files}/sketch.png", "--save-intermediates", steps) == 0
    names = {path.name for path in steps.iterdir()}
    assert {"crop_before.png", "crop_after.png", "parse_before.png", "sketch_strokes.png", "proxy_reconstruction.png",
            "proxy_sketch.png", "proxy_hairstyle_blend.png", "mask_hair_before.png", "mask_edit_region.png",
            "mask_sketch_region.png"} <= names
    assert Image.open(steps / "crop_before.png").size == (1024, 1024)
    sketch = np.asarray(Image.open(steps / "sketch_strokes.png"))
    assert sketch.shape == (512, 512) and set(np.unique(sketch)) == {0, 128}

    # The workflow the help text promises: paint over parse_before.png, pass it as --mask.
    painted = np.asarray(Image.open(steps / "parse_before.png").convert("RGB")).copy()
    painted[: painted.shape[0] // 4] = (204, 102, 255)  # hair colour across the top
    Image.fromarray(painted).save(tmp_path / "painted.png")
    assert (load_mask(str(tmp_path / "painted.png"))[:128] == 10).all()
    assert edit(files, tmp_path / "second.png", "--hairstyle", "long hair", "--mask", tmp_path / "painted.png") == 0


def _spy_on_edits(monkeypatch) -> list:
    """Record (preset, step counts, seed, face) of every edit the CLI runs."""
    seen = []
    real_edit = HairEditor.edit

    def spy(editor, *args, **kwargs):
        config = editor._config_for(kwargs.get("preset"), kwargs.get("seed"))
        seen.append((config.preset, config.inversion.w_steps, config.text.steps, config.seed, kwargs["face"]))
        return real_edit(editor, *args, **kwargs)

    monkeypatch.setattr(HairEditor, "edit", spy)
    return seen


def test_preset_and_seed_reach_the_edit(files, tmp_path, monkeypatch):
    seen = _spy_on_edits(monkeypatch)
    assert edit(files, tmp_path / "out.png", "--rgb", "red", "--preset", "fast", "--seed", "7") == 0
    assert seen == [("fast", 2, 2, 7, 0)]  # quick.json's step counts laid over the fast preset


def test_a_fast_settings_file_with_preset_faithful_runs_the_official_step_counts(files, tmp_path, monkeypatch):
    seen = _spy_on_edits(monkeypatch)
    fast = tmp_path / "fast.json"
    fast.write_text(json.dumps({"preset": "fast", "color": {"stage1_steps": 1, "stage2_steps": 1}}))
    monkeypatch.setattr(HairEditor, "from_pretrained",
                        lambda *a, **k: pytest.fail("the real networks were asked for"))

    def run(*options):
        return main(["edit", str(files / "me.png"), "-o", str(tmp_path / f"{len(seen)}.png"), "--smoke",
                     "--config", str(fast), "--rgb", "red", *options])

    assert run("--preset", "faithful") == 0
    assert seen == [("faithful", SMOKE_STEPS, SMOKE_STEPS, 0, 0)]
    config = read_config(argparse.Namespace(smoke=False, config=str(fast), preset="faithful"))
    assert (config.preset, config.inversion.w_steps, config.text.steps, config.fast) == ("faithful", 1100, 200, None)
    assert config.color.stage1_steps == 1  # what the file sets besides the preset still applies


def test_config_file_overrides_only_what_it_names(tmp_path):
    def config_of(smoke, settings):
        path = tmp_path / "settings.json"
        path.write_text(json.dumps(settings))
        return read_config(argparse.Namespace(smoke=smoke, config=str(path), preset=None))

    smoke = config_of(True, {"text": {"steps": 2}, "autocast": "bf16"})
    assert smoke.text.steps == 2 and smoke.autocast == "bf16"
    assert smoke.inversion.w_steps == SMOKE_STEPS and smoke.text.learning_rate == EditConfig().text.learning_rate
    faithful = config_of(False, {"seed": 4})
    assert faithful.inversion.w_steps == 1100 and faithful.seed == 4
    fast = config_of(False, {"preset": "fast"})
    assert fast.fast is not None and fast.inversion.w_steps == EditConfig.for_preset("fast").inversion.w_steps < 1100


def test_config_accepts_inline_json(files, tmp_path, monkeypatch):
    seen = _spy_on_edits(monkeypatch)
    inline = ('{"seed": 5, "inversion": {"w_steps": 1, "fs_steps": 1}, '
              '"color": {"stage1_steps": 1, "stage2_steps": 1}}')
    assert main(["edit", str(files / "me.png"), "-o", str(tmp_path / "out.png"), "--smoke", "--config", inline,
                 "--rgb", "red"]) == 0
    assert seen == [("faithful", 1, SMOKE_STEPS, 5, 0)]  # the settings' seed, --seed not given


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_before_or_after_the_command(files, tmp_path, capsys, where):
    argv = ["edit", str(files / "nobody.png"), "-o", str(tmp_path / "out.png"), "--rgb", "red"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(Exception, match="nobody.png: no such file"):
        main(argv)
    assert main(argv[1:] if where == "before" else argv[:-1]) == 2  # without it: one line
    assert capsys.readouterr().err.startswith("hairedit: error: ")


def test_demo_keeps_an_existing_sheet_and_doctor_reports_missing_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(HairEditor, "edit", lambda *a, **k: pytest.fail("an edit started"))
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"an older sheet")
    assert main(["demo", "--smoke", "-o", str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and sheet.read_bytes() == b"an older sheet"

    assert main(["doctor", "--weights-dir", str(tmp_path / "empty")]) == 1  # an edit could not run
    out = capsys.readouterr().out
    assert "torch" in out and "devices: cpu" in out
    assert "MISSING  ffhq.pt" in out and "hairedit weights download" in out
    assert out.splitlines()[-1].startswith("edits with the faithful preset cannot run: ffhq.pt, seg.pth, ")


def test_doctor_fails_on_a_broken_file_and_passes_when_every_needed_file_is_whole(tmp_path, capsys, monkeypatch):
    from hairedit.weights import download

    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "lpips_vgg_v0.1.pth").write_bytes(b"cut short")  # pinned at 7289 bytes
    assert main(["doctor", "--weights-dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN   lpips_vgg_v0.1.pth  (9 bytes, expected 7289; " in out
    assert "lpips_vgg_v0.1.pth" in out.splitlines()[-1]
    (folder / "lpips_vgg_v0.1.pth").unlink()
    monkeypatch.setattr(download, "missing_files", lambda names=None, folder=None: [])  # as if all were there
    assert main(["doctor", "--weights-dir", str(folder)]) == 0
    assert "cannot run" not in capsys.readouterr().out


def test_the_smoke_demo_sheet_does_not_take_the_real_demos_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(HairEditor, "edit", lambda *a, **k: pytest.fail("an edit started"))
    (tmp_path / "hairedit_demo_smoke.png").write_bytes(b"an older smoke sheet")
    assert main(["demo", "--smoke"]) == 2  # refused: the smoke sheet's own name is taken ...
    (tmp_path / "hairedit_demo.png").write_bytes(b"a real sheet")
    (tmp_path / "hairedit_demo_smoke.png").unlink()
    with pytest.raises(pytest.fail.Exception, match="an edit started"):
        main(["demo", "--smoke"])  # ... while the real demo's sheet is no obstacle


def test_warnings_about_the_result_are_printed(files, tmp_path, capsys, monkeypatch):
    from hairedit import edit_run

    monkeypatch.setattr(edit_run.EditRun, "_warnings", lambda *args: [edit_run.OLD_HAIR_PAST_CROP])
    assert edit(files, tmp_path / "out.png", "--rgb", "red") == 0
    assert f"hairedit: warning: {edit_run.OLD_HAIR_PAST_CROP}" in capsys.readouterr().err
    assert (tmp_path / "out.png").is_file()


def test_random_networks_say_nothing_about_hair_past_the_crop(files, tmp_path, capsys, monkeypatch):
    from hairedit import edit_run

    monkeypatch.setattr(edit_run, "old_hair_left_past_crop", lambda *args: True)
    assert edit(files, tmp_path / "out.png", "--rgb", "red") == 0
    assert "warning" not in capsys.readouterr().err


def test_smoke_edits_use_the_inversion_cache_like_any_edit(files, tmp_path, capsys):
    """The second --smoke edit of a photo reuses its inversion, kept in the weights folder."""
    home = tmp_path / "weights"
    assert edit(files, tmp_path / "one.png", "--rgb", "red", "--weights-dir", home) == 0
    assert list((home / "inversions").glob("*.inversion.pt"))
    capsys.readouterr()
    assert edit(files, tmp_path / "two.png", "--rgb", "blue", "--weights-dir", home) == 0
    assert "inversion (W+)" not in capsys.readouterr().err  # no inversion step ran: it came from the cache


# What each mode runs, so the files it asks for: every edit inverts the photo (the optimising
# presets with LPIPS on VGG16); hairstyles add the bald proxy and, optimised, the landmarks;
# text adds CLIP (the instant preset's HairCLIP has its own, and the tokenizer both need).
ALWAYS = {"ffhq.pt", "seg.pth"}
OPTIMISED = ALWAYS | {"vgg16-397923af.pth", "lpips_vgg_v0.1.pth"}
INSTANT = ALWAYS | {"e4e_ffhq_encode.pt"}
CLIP = {"clip_vit_b32.safetensors", "clip_vocab.json", "clip_merges.txt"}
HAIRCLIP = {"hairclip.pt", "clip_vocab.json", "clip_merges.txt"}
FAN = {"3DFAN4-7835d9f11d.pth.tar"}
MODES = {  # options: (files of the optimising presets, files of the instant preset)
    ("--hairstyle", "bob cut"): (OPTIMISED | {"bald_proxy.pt"} | FAN | CLIP, INSTANT | {"bald_proxy.pt"} | HAIRCLIP),
    ("--hairstyle-ref", "{files}/friend.png"): (OPTIMISED | {"bald_proxy.pt"} | FAN,
                                                INSTANT | {"bald_proxy.pt", "hairclip.pt"} | HAIRCLIP),
    ("--sketch", "{files}/sketch.png"): (OPTIMISED | {"sketch_proxy.pt"}, INSTANT | {"sketch_proxy.pt"}),
    ("--color", "red hair"): (OPTIMISED | CLIP, INSTANT | HAIRCLIP),
    ("--color-ref", "{files}/friend.png"): (OPTIMISED, INSTANT | HAIRCLIP),
    ("--rgb", "red"): (OPTIMISED, INSTANT | HAIRCLIP),
    ("--rgb", "red", "--sketch", "{files}/sketch.png"): (OPTIMISED | {"sketch_proxy.pt"},
                                                          INSTANT | HAIRCLIP | {"sketch_proxy.pt"}),
}


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("options", MODES)
def test_an_edit_asks_for_exactly_the_files_it_runs(files, tmp_path, capsys, preset, options):
    from hairedit.weights.registry import WEIGHTS

    argv = ["edit", str(files / "me.png"), "-o", str(tmp_path / "out.png"), "--preset", preset,
            "--weights-dir", str(tmp_path / "no_weights"), *[o.format(files=files) for o in options]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    asked = {name for name in WEIGHTS if f" {name} (" in err}
    assert asked == MODES[options][preset == "instant"], err
    # `weights list --for` says the same of the same options.
    edit_options = shlex.join([*argv[4:6], *argv[8:]])
    assert main(["weights", "list", "--weights-dir", str(tmp_path / "no_weights"), "--for", edit_options]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1] == f"an edit with {edit_options} needs {len(asked) + 1} files:"
    shown = {line.split()[0] for line in listing[2:] if line.startswith("  ") and not line.startswith("      ")}
    assert shown == asked | {"shape_predictor_68_face_landmarks.dat"}  # the face aligner's, installed with dlib
