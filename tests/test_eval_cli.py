"""`hairedit eval` as a user types it: one pair, a batch's output folder, presets compared on a
manifest of real photos (the report opened in headless Chromium), and bad input refused up front."""

import csv
import json
import subprocess
import sys

import cv2
import pytest
from PIL import Image
from skimage import data

from hairedit.cli import main
from tests.browser import launch_chromium
from tests.real_photos import insightface_image

QUICK = {"inversion": {"w_steps": 2, "fs_steps": 2}, "text": {"steps": 2}, "reference": {"steps": 2},
         "color": {"stage1_steps": 2, "stage2_steps": 2}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval_inputs")
    photo = data.astronaut()
    Image.fromarray(photo).save(folder / "me.png")
    recoloured = photo.copy()
    recoloured[:90, 150:360] = (180, 40, 40)  # "new hair" over the top of the head
    Image.fromarray(recoloured).save(folder / "me_red.png")
    Image.fromarray(photo[:400]).save(folder / "me_cut.png")
    Image.fromarray(insightface_image("t1.jpg")).save(folder / "group.jpg")
    Image.new("RGB", (400, 400), "grey").save(folder / "wall.png")
    (folder / "quick.json").write_text(json.dumps(QUICK))
    return folder


def _eval_json(capsys, *argv) -> tuple[int, dict]:
    code = main(["eval", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_one_pair_gives_identity_preservation_and_the_conditions_metrics(files, capsys):
    code, metrics = _eval_json(capsys, "--before", str(files / "me.png"), "--after", str(files / "me_red.png"),
                               "--rgb", "180,40,40", "--hairstyle", "bob cut hairstyle", "--smoke", "--json")
    assert code == 0
    for name in ("identity", "identity_distance", "psnr_outside", "ssim_outside", "lpips_outside", "psnr_outside_crop",
                 "color_delta_e", "color_delta_e_before", "clip_score", "clip_score_before"):
        assert isinstance(metrics[name], float), name
    assert 0.9 < metrics["identity"] <= 1
    assert metrics["color_delta_e"] < metrics["color_delta_e_before"]  # redder hair is nearer the asked red


def test_an_unchanged_pair_is_perfect_in_strict_json(files, capsys):
    code, metrics = _eval_json(capsys, "--before", str(files / "me.png"), "--after", str(files / "me.png"), "--smoke",
                               "--json")
    assert code == 0
    assert metrics["psnr_outside"] == "inf" and metrics["ssim_outside"] == 1.0 and metrics["lpips_outside"] == 0.0
    assert metrics["identity"] == pytest.approx(1.0)


def test_a_pair_is_measured_with_no_weights_and_the_rest_listed_as_skipped(files, tmp_path, capsys):
    """No download at all: whole-photo PSNR and SSIM, and identity (dlib's models ship in a package)."""
    argv = ["--before", str(files / "me.png"), "--after", str(files / "me_red.png"), "--hairstyle", "bob cut",
            "--color-ref", str(files / "me_red.png"), "--weights-dir", str(tmp_path / "no_weights"), "--json"]
    code, metrics = _eval_json(capsys, *argv)
    assert code == 0
    assert 0.9 < metrics["identity"] <= 1 and 10 < metrics["psnr"] < 60 and 0.5 < metrics["ssim"] < 1
    assert set(metrics["skipped"]) == {"psnr_outside", "ssim_outside", "lpips_outside", "clip_score", "color_delta_e"}
    assert "seg.pth" in metrics["skipped"]["psnr_outside"] and "hairedit weights download" in metrics["skipped"]["clip_score"]
    assert "psnr_outside" not in metrics and "clip_score" not in metrics
    assert main(["eval", *argv, "--require-all"]) == 2
    err = capsys.readouterr().err
    assert err.count("hairedit: error: ") == 1 and "seg.pth" in err and "clip_vit_b32.safetensors" in err


def test_the_parser_alone_gives_the_metrics_outside_the_hair(files, tmp_path, capsys):
    from tests.official.seg import write_seg

    (tmp_path / "parser_only").mkdir()
    write_seg(tmp_path / "parser_only" / "seg.pth")
    code, metrics = _eval_json(capsys, "--before", str(files / "me.png"), "--after", str(files / "me_red.png"),
                               "--weights-dir", str(tmp_path / "parser_only"), "--json")
    assert code == 0
    assert isinstance(metrics["psnr_outside"], float) and isinstance(metrics["ssim_outside_crop"], float)
    assert set(metrics["skipped"]) == {"lpips_outside"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--before", "{f}/me.png", "--after", "{f}/me_cut.png"], "compare an edit with the photo it was made from"),
        (["--before", "{f}/me.png"], "both --before and --after"),
        (["--before", "{f}/me.png", "--after", "{f}/nothing.png"], "nothing.png"),
        (["--before", "{f}/wall.png", "--after", "{f}/wall.png"], "no face"),
        (["{f}/quick.json"], "--compare-presets"),
        (["{f}/manifest.csv", "--compare-presets", "faithful,turbo", "-o", "{f}/r"], "turbo"),
        (["{f}/manifest.csv", "--compare-presets", "fast,fast", "-o", "{f}/r"], "twice"),
        (["{f}/manifest.csv", "--compare-presets", "faithful"], "-o REPORT_DIR"),
        (["{f}", "--rgb", "1,2,3"], "only with --before"),
        (["{f}"], "report.jsonl"),
        ([], "give --before and --after"),
    ],
    ids=["sizes", "half-a-pair", "missing", "no-face", "manifest-alone", "unknown-preset", "repeated-preset",
         "no-output", "conditions-on-a-folder", "not-a-batch", "nothing"],
)
def test_bad_input_is_one_clear_line(files, capsys, argv, message):
    (files / "manifest.csv").write_text("photo,rgb\nme.png,1 2 3\n")
    assert main(["eval", *[arg.format(f=files) for arg in argv], "--smoke"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("folder, message", [("/proc/report", "cannot write into /proc ("),
                                             ("{f}/me.png/report", "me.png is a file, not a folder")])
def test_a_report_folder_that_cannot_be_written_is_refused_before_any_edit(files, capsys, folder, message):
    (files / "manifest.csv").write_text("photo,rgb\nme.png,1 2 3\n")
    argv = ["eval", str(files / "manifest.csv"), "--compare-presets", "faithful", "-o", folder.format(f=files), "--smoke"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hairedit: error: ") and err.count("\n") == 1 and message in err


def test_an_existing_report_is_refused_before_any_edit(files, tmp_path, capsys):
    (tmp_path / "report.html").write_text("mine")
    (files / "manifest.csv").write_text("photo,rgb\nme.png,1 2 3\n")
    argv = ["eval", str(files / "manifest.csv"), "--compare-presets", "faithful", "-o", str(tmp_path), "--smoke"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "report.html").read_text() == "mine"


def test_comparing_presets_checks_every_compared_presets_weights_first(files, tmp_path, capsys):
    """Before any edit, one message naming the files of every preset compared (instant's own too)."""
    (files / "manifest.csv").write_text("photo,rgb\nme.png,1 2 3\n")
    argv = ["eval", str(files / "manifest.csv"), "--compare-presets", "faithful,instant", "-o", str(tmp_path / "r"),
            "--weights-dir", str(tmp_path / "no_weights")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hairedit: error: ") and err.count("hairedit: error: ") == 1
    assert all(name in err for name in ("ffhq.pt", "e4e_ffhq_encode.pt", "hairclip.pt", "hairedit weights download"))
    assert not (tmp_path / "r").exists()


def test_help_loads_neither_torch_nor_gradio():
    probe = ("import sys\nfrom hairedit.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted({'torch', 'gradio'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "eval" in out and out.strip().endswith("[]")


# -- a batch's output folder --------------------------------------------------------------------


def test_a_batch_folder_is_measured_with_its_failures_listed(files, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    blurred = cv2.GaussianBlur(data.astronaut(), (0, 0), 2)
    Image.fromarray(blurred).save(run / "me-blurred.png")
    rows = [  # as `hairedit batch` writes them, then with the conditions, face and timings of its rows
        {"row": 1, "index": 0, "status": "done", "photo": str(files / "me.png"), "output": "me-blurred.png",
         "key": "ab12", "origin": "m.csv, line 2", "error": None, "seconds": 4.5},
        {"row": 2, "index": 1, "status": "skipped", "photo": str(files / "me.png"), "output": str(files / "me_red.png"),
         "conditions": {"rgb": "180,40,40"}, "face": 0, "timings": {"inversion": 3.0, "colour proxy": 1.5}},
        {"row": 3, "index": 2, "status": "failed", "photo": str(files / "wall.png"), "output": "wall.png",
         "error": "no face found in wall.png"},
    ]
    (run / "report.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    code, report = _eval_json(capsys, str(run), "--smoke", "--json", "-o", str(tmp_path / "report"))
    assert code == 1  # a row failed
    assert len(report["edits"]) == 2 and report["failures"][0]["message"] == "no face found in wall.png"
    first, second = report["edits"]
    assert first["seconds"] == 4.5 and "color_delta_e" not in first
    assert second["seconds"] == 4.5 and second["seconds_colour_proxy"] == 1.5
    assert second["color_delta_e"] < second["color_delta_e_before"]
    assert first["identity"] < second["identity"]  # the blurred face is less like the original than the red hair
    summary = report["summary"]["edits"]
    assert summary["identity"]["count"] == 2 and summary["fid"] is not None
    assert (tmp_path / "report" / "report.html").is_file()


# -- presets on a manifest, the report in a browser ---------------------------------------------------


@pytest.fixture(scope="module")
def compared(files, tmp_path_factory):
    """faithful and fast on three rows (one without a face) of two real photos."""
    manifest = files / "compare.jsonl"
    rows = [{"photo": "me.png", "hairstyle": "bob cut hairstyle"},
            {"photo": "group.jpg", "face": 2, "rgb": "#d4a373", "seed": 5},
            {"photo": "wall.png", "color": "blond hair"}]
    manifest.write_text("\n".join(json.dumps(row) for row in rows))
    report = tmp_path_factory.mktemp("compare") / "report"
    code = main(["eval", str(manifest), "--compare-presets", "faithful,fast", "-o", str(report), "--smoke",
                 "--config", str(files / "quick.json")])
    return code, report


def test_comparing_presets_writes_tables_of_every_edit(compared):
    code, report = compared
    assert code == 1  # the photo without a face failed, the rest went on
    with open(report / "edits.csv", newline="") as handle:
        edits = list(csv.DictReader(handle))
    assert [(row["edit"], row["preset"]) for row in edits] == [
        ("1_me", "faithful"), ("1_me", "fast"), ("2_group", "faithful"), ("2_group", "fast")]
    assert all(float(row["seconds"]) > 0 for row in edits)
    assert edits[0]["clip_score"] != "–" and edits[2]["color_delta_e"] != "–"
    with open(report / "summary.csv", newline="") as handle:
        summary = {(row["preset"], row["metric"]): row for row in csv.DictReader(handle)}
    assert summary[("fast", "identity")]["count"] == "2" and ("faithful", "fid") in summary
    markdown = (report / "report.md").read_text()
    assert "| identity ↑ |" in markdown and "3_wall (faithful): no face found" in markdown
    assert "PSNR of a set: that of the edits' mean squared error" in markdown


@pytest.mark.browser
def test_the_comparison_report_renders_in_chromium(compared):
    from playwright.sync_api import sync_playwright

    _, report = compared
    with sync_playwright() as driver:
        browser = launch_chromium(driver)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto((report / "report.html").as_uri())
        images = page.evaluate("() => [...document.images].map(i => [i.alt, i.complete && i.naturalWidth])")
        headers = page.locator("table.grid th").all_inner_texts()
        charts = page.locator("svg").count()
        sizes = page.evaluate("() => [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)")
        page.screenshot(path=str(report / "screenshot.png"), full_page=True)
        browser.close()
    assert headers == ["before", "faithful", "fast"]
    assert [alt for alt, _ in images] == ["1_me before", "1_me faithful", "1_me fast", "2_group before",
                                          "2_group faithful", "2_group fast"]
    assert all(width == 320 for _, width in images)  # every picture loaded
    assert charts >= 2 * 8 and min(sizes) > 400  # distributions and quality-vs-time plots, drawn full width
