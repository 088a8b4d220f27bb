"""`hairedit batch` without networks: reading manifests, folders and catalogues; refusing
malformed ones before any work; the row keys; and the bookkeeping that makes a batch
resumable, checked at every point where a SIGKILL can land. (tests/test_batch.py runs real
batches.)"""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from hairedit.batch import (
    BatchRow,
    EditorSpec,
    ManifestError,
    RowDefaults,
    catalogue_rows,
    folder_photos,
    read_manifest,
    read_styles,
    run_batch,
)
from hairedit.batch.outputs import ROWS, OutputDir
from hairedit.cli import main
from hairedit.config import PRESETS, EditConfig
from hairedit.errors import InputError
from hairedit.imageio import save_image
from hairedit.pipeline import HairEditor


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, value in (("ann.jpg", 40), ("bob.png", 120), ("cy.webp", 200)):
        Image.new("RGB", (32, 32), (value, value, value)).save(photos / name)
    (photos / "notes.txt").write_text("not a photo")
    (photos / ".hidden.png").write_bytes(b"")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- manifests -----------------------------------------------------------------------------


def test_csv_manifest_rows_resolve_paths_against_the_manifest_and_keep_every_option(folder):
    manifest = write(folder / "edits.csv", "\ufeffPhoto,hairstyle-ref,Color,rgb,face,seed,preset,output\n"
                     'photos/ann.jpg,photos/bob.png,,"10,20,30",2,-7,fast,out/ann.png\n'
                     "\n"
                     "photos/bob.png,,platinum blonde,,,,,\n")
    first, second = read_manifest(manifest)
    assert first == BatchRow(str(folder / "photos/ann.jpg"), {"hairstyle_ref": str(folder / "photos/bob.png"),
                             "rgb": "10,20,30"}, face=2, seed=-7, preset="fast", output="out/ann.png",
                             origin=f"{manifest}, line 2")
    assert second.conditions == {"color": "platinum blonde"} and second.face is None and second.output is None
    assert second.origin == f"{manifest}, line 4"


def test_a_manifest_row_may_edit_every_face(folder):
    csv_rows = read_manifest(write(folder / "all.csv", "photo,face\nphotos/ann.jpg,all\nphotos/ann.jpg, ALL \n"))
    json_rows = read_manifest(write(folder / "all.jsonl", '{"photo": "photos/ann.jpg", "face": "all"}\n'))
    assert [row.face for row in csv_rows + json_rows] == ["all", "all", "all"]


def test_jsonl_manifest_takes_nulls_as_absent_and_rgb_as_a_list(folder):
    manifest = write(folder / "edits.jsonl", '{"photo": "/abs/me.jpg", "rgb": [1, 2, 3], "seed": null}\n\n'
                     '{"photo": "photos/cy.webp", "hairstyle": "bob cut hairstyle", "sketch": "s.png"}\n')
    first, second = read_manifest(manifest)
    assert first.photo == "/abs/me.jpg" and first.conditions == {"rgb": (1, 2, 3)} and first.seed is None
    assert second.conditions == {"hairstyle": "bob cut hairstyle", "sketch": str(folder / "s.png")}
    assert second.origin.endswith("line 3")


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("m.csv", "photo,colour\nme.jpg,red\n", "line 1: unknown column 'colour'"),
        ("m.csv", "photo,rgb\nme.jpg,red\nme.jpg,red,extra\n", "line 3: 3 values for 2 columns"),
        ("m.csv", "photo,seed\nme.jpg,1\nme.jpg,lucky\n", "line 3: seed must be a whole number, not 'lucky'"),
        ("m.csv", "photo,face\nme.jpg,-1\n", "line 2: face must be 0 or more"),
        ("m.csv", "photo,preset\nme.jpg,turbo\n", f"line 2: unknown preset 'turbo'; use {', '.join(PRESETS)}"),
        ("m.csv", "photo,rgb,rgb\nme.jpg,red,blue\n", "line 1: the column rgb is named twice"),
        ("m.csv", "hairstyle,rgb\nbob,red\n", "line 2: no photo"),
        ("m.csv", 'photo,rgb\nme.jpg,"red\nstill the same value"\nme.jpg,blue,x\n', "line 4: 3 values"),
        ("m.csv", "photo,output\nme.jpg,../escape.png\n", "line 2: output '../escape.png' must be a file name inside"),
        ("m.csv", "photo,output\nme.jpg,me.psd.bak\n", "line 2: output me.psd.bak: unknown image extension"),
        ("m.csv", "photo,output\nme.jpg,me.psd\n", "line 2: output me.psd: hairedit does not write PSD files; use .jpg"),
        ("m.jsonl", '{"photo": "me.jpg", "output": "me.xbm"}\n', "line 1: output me.xbm: hairedit does not write XBM"),
        ("m.csv", 'photo,rgb\nme.jpg,red\nme.jpg,"blue\nyou.jpg,green\nthem.jpg,red\n',
         "line 3: a quoted value opened here is never closed"),
        ("m.csv", 'photo,rgb\nme.jpg,red\nme.jpg,"blue"green\nyou.jpg,red\n', "line 3: not CSV"),
        ("m.csv", "", "is empty; the first line names the columns"),
        ("m.csv", "photo\n", "has no rows"),
        ("m.jsonl", '{"photo": "me.jpg"}\n{"photo": "me.jpg", "rgb": "red"\n', "line 2: not JSON"),
        ("m.jsonl", '["me.jpg", "red"]\n', "line 1: expected a JSON object"),
        ("m.jsonl", '{"photo": "me.jpg", "hairstyle": 7}\n', "line 1: hairstyle must be text, not 7"),
        ("m.jsonl", '{"photo": "me.jpg", "face": true}\n', "line 1: face must be 0 or more"),
        ("m.csv", "photo,face\nme.jpg,every\n", "line 2: face must be 0 or more"),
        ("m.txt", "me.jpg\n", "use a .csv or .jsonl file"),
    ],
)
def test_malformed_manifests_are_refused_naming_the_line(tmp_path, name, text, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_manifest(write(tmp_path / name, text))


def test_a_malformed_manifest_stops_the_command_before_any_work(folder, capsys, monkeypatch):
    """Two rows writing one file: refused in one line naming both lines; no editor is built, nothing written."""
    monkeypatch.setattr(EditorSpec, "build", lambda *a: pytest.fail("an editor was built"))
    manifest = write(folder / "edits.csv", "photo,rgb,output\nphotos/ann.jpg,red,x.png\nphotos/bob.png,blue,X.png\n")
    assert main(["batch", str(manifest), "-o", str(folder / "out"), "--smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{manifest}, line 3: writes X.png, as {manifest}, line 2 does" in err
    assert not (folder / "out").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["{folder}/photos"], "give a hairstyle (text, reference photo or sketch) and/or a colour"),
        (["{folder}/photos", "--rgb", "crimsonn"], "'crimsonn' is not a colour"),
        (["{folder}/photos", "--rgb", "red", "--styles", "{folder}/styles.txt"], "not both"),
        (["{folder}/edits.csv", "--rgb", "red"], "with a manifest the conditions come from its columns"),
        (["{folder}/photos", "--styles", "{folder}/bad_styles.csv"], "bad_styles.csv, line 3: give one colour"),
        (["{folder}/photos", "--rgb", "red", "-o", "{folder}/photos"], "is the folder of photos"),
        (["{folder}/photos", "--rgb", "red", "-o", "/proc/out"], "cannot write into /proc ("),
        (["{folder}/photos", "--rgb", "red", "-o", "{folder}/edits.csv/out"], "edits.csv is a file, not a folder"),
        (["{folder}/nowhere", "--rgb", "red"], "nowhere: no such manifest or folder"),
        (["{folder}/edits.csv", "--devices", "cuda:7"], "device 'cuda:7' is not available here"),
        (["{folder}/edits.csv", "--ray", "--device", "cpu"], "--device and --devices are for this machine"),
    ],
)
def test_bad_options_are_refused_in_one_line_before_any_work(folder, capsys, monkeypatch, options, message):
    write(folder / "edits.csv", "photo,rgb\nphotos/ann.jpg,red\n")
    write(folder / "styles.txt", "bob cut hairstyle\n")
    write(folder / "bad_styles.csv", "name,rgb,color\nred,red,\nmixed,red,blue hair\n")
    monkeypatch.setattr(HairEditor, "edit", lambda *a, **k: pytest.fail("an edit started"))
    argv = ["batch", *[o.format(folder=folder) for o in options]]
    if "-o" not in argv:
        argv += ["-o", str(folder / "out")]
    assert main([*argv, "--smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hairedit: error: ") and err.count("\n") == 1 and message in err
    assert not (folder / "out").exists()


def test_missing_weights_stop_the_batch_in_one_message_before_any_work(folder, capsys, monkeypatch):
    """The files of every preset the rows use, all in one message."""
    monkeypatch.setattr(EditorSpec, "build", lambda *a: pytest.fail("an editor was built"))
    manifest = write(folder / "edits.csv", "photo,rgb,preset\nphotos/ann.jpg,red,\nphotos/bob.png,blue,instant\n")
    empty = folder / "no_weights"
    assert main(["batch", str(manifest), "-o", str(folder / "out"), "--weights-dir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hairedit: error: ") and err.count("hairedit: error: ") == 1
    assert all(name in err for name in ("ffhq.pt", "e4e_ffhq_encode.pt", "hairclip.pt", "hairedit weights download"))
    assert not (folder / "out").exists()


# -- folders and catalogues ----------------------------------------------------------------


def test_a_folder_lists_its_photos_by_name_and_refuses_two_with_one_name(folder):
    assert [p.name for p in folder_photos(folder / "photos")] == ["ann.jpg", "bob.png", "cy.webp"]
    Image.new("RGB", (8, 8)).save(folder / "photos" / "ann.png")
    with pytest.raises(InputError, match="ann.jpg and ann.png would write the same output"):
        folder_photos(folder / "photos")
    with pytest.raises(InputError, match="holds no photos"):
        folder_photos(folder)


def test_a_catalogue_is_every_photo_times_every_style(folder):
    styles_txt = read_styles(write(folder / "styles.txt", "# salon menu\nbob cut hairstyle\n\nAfro hairstyle!\n"))
    assert [(s.name, s.conditions) for s in styles_txt] == [
        ("bob_cut_hairstyle", {"hairstyle": "bob cut hairstyle"}), ("afro_hairstyle", {"hairstyle": "Afro hairstyle!"})]
    styles = read_styles(write(folder / "styles.jsonl", '{"name": "honey", "rgb": "#d4a373", "seed": 3}\n'
                               '{"hairstyle_ref": "photos/bob.png", "color": "blond hair"}\n{"sketch": "s.png"}\n'))
    assert [s.name for s in styles] == ["honey", "blond_hair", "style3"]
    assert styles[1].conditions["hairstyle_ref"] == str(folder / "photos/bob.png")
    rows = catalogue_rows(folder_photos(folder / "photos"), styles, "jpg")
    assert len(rows) == 9
    assert [r.output for r in rows[:3]] == ["ann/honey.jpg", "ann/blond_hair.jpg", "ann/style3.jpg"]
    assert rows[0].seed == 3 and rows[0].conditions == {"rgb": "#d4a373"}
    with pytest.raises(ManifestError, match="line 3: the style name 'bob' is taken by line 2; give each style its own name"):
        read_styles(write(folder / "dup.csv", "name,hairstyle\nbob,bob cut\nbob,short bob\n"))


# -- row keys and resumable bookkeeping, with a stand-in editor -----------------------------


class StandInResult(SimpleNamespace):
    def save(self, path, overwrite=False):
        return save_image(self.image, path, overwrite)


TIMINGS = {"inversion (W+)": 0.5, "colour blending": 0.25}
WARNING = "the face is small (80 px): the edit may look soft."


class StandInEditor:
    """Answers edit() at once with a picture made of the inputs: the batch's bookkeeping
    is what is tested here (tests/test_batch.py runs the real editor)."""

    edits: list = []

    def __init__(self, device=None):
        self.components = SimpleNamespace(device="cpu")

    def load_networks(self, preset=None, config=None):
        pass  # nothing to load

    def edit(self, photo, face=0, seed=0, preset=None, config=None, callback=None, cancel=None, previews=True,
             **conditions):
        if conditions.get("rgb") == "crimsonn":
            raise InputError("'crimsonn' is not a colour.")
        StandInEditor.edits.append((Path(photo).name, conditions, seed, config))
        value = (int(np.asarray(Image.open(photo)).sum()) + 7 * seed + len(str(conditions))) % 256
        return StandInResult(image=Image.new("RGB", (16, 16), (int(value),) * 3), warnings=[WARNING],
                             timings=dict(TIMINGS))


@pytest.fixture
def stand_in(monkeypatch):
    StandInEditor.edits = []
    monkeypatch.setattr(EditorSpec, "build", lambda self, device=None: StandInEditor(device))
    return StandInEditor


def rows(folder):
    return [BatchRow(str(folder / "photos" / name), {"rgb": rgb}, output=f"{Path(name).stem}.png")
            for name, rgb in (("ann.jpg", "red"), ("bob.png", "blue"), ("cy.webp", "crimsonn"))]


def run(folder, batch_rows=None, **options):
    return run_batch(batch_rows or rows(folder), folder / "out", EditorSpec(EditConfig.smoke(1), smoke=True),
                     **options)


def statuses(summary):
    return [o.status for o in summary.outcomes]


def test_a_rerun_edits_nothing_and_reports_the_bad_row_again(folder, stand_in):
    first = run(folder)
    assert statuses(first) == ["done", "done", "failed"]
    assert first.failed[0].error == "'crimsonn' is not a colour." and len(stand_in.edits) == 2
    second = run(folder)
    assert statuses(second) == ["skipped", "skipped", "failed"] and len(stand_in.edits) == 2
    report = [json.loads(line) for line in (folder / "out" / "report.jsonl").read_text().splitlines()]
    assert [(r["row"], r["status"], r["error"]) for r in report] == [
        (1, "skipped", None), (2, "skipped", None), (3, "failed", "'crimsonn' is not a colour.")]
    third = run(folder, overwrite=True)
    assert statuses(third) == ["done", "done", "failed"] and len(stand_in.edits) == 4


def test_an_rgb_as_a_json_list_or_a_python_tuple_is_edited(folder, stand_in):
    manifest = write(folder / "edits.jsonl", '{"photo": "photos/ann.jpg", "rgb": [200, 40, 40], "output": "ann.png"}\n')
    batch = [*read_manifest(manifest), BatchRow(str(folder / "photos/bob.png"), {"rgb": (200, 40, 40)}, output="bob.png")]
    assert statuses(run(folder, batch)) == ["done", "done"]
    assert [edit[1] for edit in stand_in.edits] == [{"rgb": (200, 40, 40)}] * 2


def test_an_output_in_a_format_hairedit_does_not_write_is_refused_before_any_work(folder, stand_in):
    batch = [BatchRow(str(folder / "photos/ann.jpg"), {"rgb": "red"}, output="ann.psd")]
    with pytest.raises(ManifestError, match=r"row 1: output ann.psd: hairedit does not write PSD files"):
        run(folder, batch)
    assert not stand_in.edits and not (folder / "out").exists()


def test_a_row_whose_output_cannot_be_written_fails_alone_and_is_tried_again(folder, stand_in):
    (folder / "out" / "ann.png").mkdir(parents=True)  # a folder in the way: the save fails, as on a full disk
    first = run(folder)
    assert statuses(first) == ["failed", "done", "failed"]
    assert first.failed[0].error.startswith("IsADirectoryError") and "ann.png" in first.failed[0].error
    assert [line["status"] for line in map(json.loads, (folder / "out" / "report.jsonl").read_text().splitlines())] \
        == ["failed", "done", "failed"]
    (folder / "out" / "ann.png").rmdir()
    assert statuses(run(folder)) == ["done", "skipped", "failed"]


def test_a_rerun_reports_the_timings_warnings_and_worker_of_the_rows_done_before(folder, stand_in):
    """What `hairedit eval RUN_DIR` reads: a skipped row keeps the seconds of the run that made it."""
    from hairedit.evaluate.runs import read_run

    first = run(folder)
    second = run(folder)
    assert statuses(second) == ["skipped", "skipped", "failed"]
    for made, kept in zip(first.done, second.skipped):
        assert made.seconds > 0 and kept.seconds == made.seconds and kept.timings == TIMINGS
        assert kept.warnings == (WARNING,) and kept.worker == made.worker != "" and kept.device == "cpu"
    report = [json.loads(line) for line in (folder / "out" / "report.jsonl").read_text().splitlines()]
    assert report[0]["timings"] == TIMINGS and report[0]["warnings"] == [WARNING]
    edits, failures = read_run(folder / "out")
    assert [edit.timings for edit in edits] == [TIMINGS, TIMINGS] and len(failures) == 1


def test_relative_paths_name_the_drivers_folders_wherever_the_workers_run(folder, stand_in, monkeypatch):
    monkeypatch.chdir(folder)
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    weights_dirs = []
    build, edit = EditorSpec.build, StandInEditor.edit

    def build_remembering(self, device=None):
        weights_dirs.append(self.weights_dir)
        return build(self, device)

    def edit_elsewhere(self, photo, **options):
        os.chdir(elsewhere)  # a Ray actor runs in a folder of its own
        return edit(self, photo, **options)

    monkeypatch.setattr(EditorSpec, "build", build_remembering)
    monkeypatch.setattr(StandInEditor, "edit", edit_elsewhere)
    summary = run_batch(rows(folder), "out", EditorSpec(smoke=True, weights_dir="weights"))
    assert statuses(summary) == ["done", "done", "failed"]
    assert (folder / "out" / "ann.png").is_file() and (folder / "out" / "bob.png").is_file()
    assert summary.report == str(folder / "out" / "report.jsonl") and Path(summary.report).is_file()
    assert not (elsewhere / "out").exists()
    assert weights_dirs == [str(folder / "weights")]


def test_a_rows_key_follows_the_settings_its_own_edit_runs_with(folder, stand_in):
    """`--preset fast` leaves a row naming its own preset alone; a seed in the settings, rows with their own seed."""
    photos, settings = folder / "photos", EditConfig.smoke(1)
    batch = [BatchRow(str(photos / "ann.jpg"), {"rgb": "red"}, preset="faithful", seed=3, output="ann.png"),
             BatchRow(str(photos / "bob.png"), {"rgb": "blue"}, output="bob.png")]
    assert statuses(run_batch(batch, folder / "out", EditorSpec(settings, smoke=True))) == ["done", "done"]
    fast = run_batch(batch, folder / "out", EditorSpec(settings.with_preset("fast"), smoke=True),
                     defaults=RowDefaults(preset="fast"))
    assert statuses(fast) == ["skipped", "done"]
    seeded = run_batch(batch, folder / "out", EditorSpec(settings.with_seed(7), smoke=True))
    assert statuses(seeded) == ["skipped", "done"]
    assert [edit[2] for edit in stand_in.edits] == [3, 0, 0, 7]


def test_a_row_with_settings_of_its_own_runs_with_them_and_is_keyed_by_them(folder, stand_in):
    """A row's config replaces the batch's settings (their seed too; --smoke's cap kept), as --config does."""
    photo = str(folder / "photos" / "ann.jpg")
    plain = BatchRow(photo, {"rgb": "red"}, output="plain.png")
    own = BatchRow(photo, {"rgb": "red"}, output="own.png", config={"seed": 9, "text": {"steps": 5}})
    assert statuses(run(folder, [plain, own], defaults=RowDefaults(seed=2))) == ["done", "done"]
    assert [(edit[2], edit[3].text.steps) for edit in stand_in.edits] == [(2, 1), (9, 3)]  # smoke caps at 1 and 3
    again = [plain, BatchRow(photo, {"rgb": "red"}, output="own.png", config={"seed": 9, "text": {"steps": 2}})]
    assert statuses(run(folder, again, defaults=RowDefaults(seed=2))) == ["skipped", "done"]
    with pytest.raises(InputError, match=r"^config: unknown EditConfig settings: \['colour'\]"):
        run(folder, [BatchRow(photo, {"rgb": "red"}, config={"colour": {}})])


def test_the_key_follows_the_inputs_content_and_settings(folder, stand_in):
    run(folder)
    Image.new("RGB", (32, 32), "white").save(folder / "photos" / "bob.png")  # new content, same name
    assert statuses(run(folder)) == ["skipped", "done", "failed"]
    assert statuses(run(folder, defaults=RowDefaults(seed=5))) == ["done", "done", "failed"]
    assert statuses(run(folder, defaults=RowDefaults(seed=5))) == ["skipped", "skipped", "failed"]
    assert [e[2] for e in stand_in.edits] == [0, 0, 0, 5, 5]


@pytest.mark.parametrize("killed", ["after writing the start", "while writing the output", "after the output",
                                    "before tidying the start"])
def test_a_rerun_after_a_kill_at_any_step_of_a_row_completes_it_once(folder, stand_in, killed):
    """The states a SIGKILL can leave at each step of a row's commit (outputs.py), made by hand."""
    run(folder)
    out = OutputDir.at(folder / "out")
    (key,) = [name.rpartition(".")[0] for name in out.names_in(f"{ROWS}/bob.png")]
    done_bytes = (folder / "out" / "bob.png").read_bytes()
    out.remove(f"{ROWS}/bob.png/{key}.done")
    out.write_bytes(f"{ROWS}/bob.png/{key}.writing", b"{}")
    if killed == "before tidying the start":
        out.write_bytes(f"{ROWS}/bob.png/{key}.done", b"{}")
    if killed in ("after writing the start", "while writing the output"):
        (folder / "out" / "bob.png").unlink()
    if killed == "while writing the output":
        (folder / "out" / ".bob.png.0123abcd.part").write_bytes(b"half a png")
    stand_in.edits.clear()
    summary = run(folder)
    expected = "skipped" if killed == "before tidying the start" else "done"
    assert statuses(summary) == ["skipped", expected, "failed"]
    assert len(stand_in.edits) == (expected == "done")
    assert (folder / "out" / "bob.png").read_bytes() == done_bytes
    assert f"{key}.done" in out.names_in(f"{ROWS}/bob.png")
    assert not list((folder / "out").glob(".*.part"))
    assert statuses(run(folder)) == ["skipped", "skipped", "failed"]


def test_a_file_no_row_wrote_is_kept_unless_overwrite(folder, stand_in):
    (folder / "out").mkdir()
    (folder / "out" / "ann.png").write_bytes(b"the user's own picture")
    summary = run(folder)
    assert summary.outcomes[0].error == (f"{folder / 'out' / 'ann.png'} already exists; pass --overwrite to replace "
                                         "it, or choose another name.")
    assert (folder / "out" / "ann.png").read_bytes() == b"the user's own picture"
    assert statuses(run(folder, overwrite=True))[0] == "done"
    assert Image.open(folder / "out" / "ann.png").size == (16, 16)


def test_outputs_go_to_an_fsspec_url(folder, stand_in):
    summary = run_batch(rows(folder), f"file://{folder}/remote", EditorSpec(smoke=True))
    assert statuses(summary) == ["done", "done", "failed"]
    assert Image.open(folder / "remote" / "ann.png").size == (16, 16)
    assert statuses(run_batch(rows(folder), f"file://{folder}/remote", EditorSpec(smoke=True))) == [
        "skipped", "skipped", "failed"]
    assert len(stand_in.edits) == 2


def test_a_second_batch_on_the_same_folder_is_refused_while_the_first_runs(folder, stand_in):
    out = OutputDir.at(folder / "out")
    out.prepare()
    with out.lock(), pytest.raises(InputError, match="another batch is writing to"):
        run(folder)


def test_ctrl_c_stops_the_batch_keeping_the_rows_done(folder, stand_in, capsys, monkeypatch, ctrl_c):
    edit = StandInEditor.edit

    def interrupt_the_second(self, photo, **options):
        if StandInEditor.edits:
            ctrl_c()
        return edit(self, photo, **options)

    monkeypatch.setattr(StandInEditor, "edit", interrupt_the_second)
    manifest = write(folder / "edits.csv", "photo,rgb\nphotos/ann.jpg,red\nphotos/bob.png,blue\n")
    assert main(["batch", str(manifest), "-o", str(folder / "out"), "--smoke"]) == 130
    err = capsys.readouterr().err
    assert "batch interrupted; the rows done are kept: run the same command to finish." in err
    assert "Traceback" not in err
    assert [line["status"] for line in map(json.loads, (folder / "out" / "report.jsonl").read_text().splitlines())] \
        == ["done"]
    monkeypatch.setattr(StandInEditor, "edit", edit)
    assert main(["batch", str(manifest), "-o", str(folder / "out"), "--smoke"]) == 0
    assert "2 rows: 1 done, 1 skipped (done before), 0 failed" in capsys.readouterr().out
    assert not list((folder / "out").glob("*.part")) and not list((folder / "out").glob(".*.part"))


# -- keys that see the weights -----------------------------------------------------------------


def test_a_new_weight_file_or_version_redoes_the_rows_it_affects_and_says_so(folder, stand_in, monkeypatch):
    """Pretrained networks (stood in for): seg.pth and e4e_ffhq_encode.pt are trusted on first use,
    with no published checksum. Replacing e4e (the instant preset's only) redoes the instant
    rows alone; replacing seg.pth (every preset's) or upgrading hairedit redoes them all."""
    import hairedit

    weights = folder / "weights"
    weights.mkdir()
    (weights / "seg.pth").write_bytes(b"parser v1")
    (weights / "e4e_ffhq_encode.pt").write_bytes(b"encoder v1")
    batch = [BatchRow(str(folder / "photos" / name), {"rgb": "red"}, preset=preset, output=f"{name}-{preset}.png")
             for name in ("ann.jpg", "bob.png") for preset in ("fast", "instant")]

    def rerun():
        spec = EditorSpec(EditConfig(), smoke=False, weights_dir=str(weights))
        summary = run_batch(batch, folder / "out", spec)
        return [o.status for o in summary.outcomes], summary

    assert rerun()[0] == ["done"] * 4
    assert rerun()[0] == ["skipped"] * 4
    (weights / "e4e_ffhq_encode.pt").write_bytes(b"encoder v2")
    states, summary = rerun()
    assert states == ["skipped", "done", "skipped", "done"]
    assert summary.redone_for_networks == 2 and "2 done before were redone: a weight file" in summary.line()
    (weights / "seg.pth").write_bytes(b"parser v2")
    assert rerun()[0] == ["done"] * 4
    monkeypatch.setattr(hairedit, "__version__", "99.0")
    states, summary = rerun()
    assert states == ["done"] * 4 and summary.redone_for_networks == 4
    assert sorted(path.name for path in (folder / "out").glob("*.png")) == sorted(row.output for row in batch)


def test_a_trusted_files_lock_record_is_its_identity(folder, tmp_path):
    """A file recorded in weights.lock.json is known by that record (no hashing); one not yet
    recorded by its content, which is what the record will say: its first batch and the reruns
    after it was recorded have the same keys."""
    from hairedit.batch.keys import networks_identity
    from hairedit.weights.lock import read_lock, record_file
    from hairedit.weights.registry import get_weight_file

    (tmp_path / "seg.pth").write_bytes(b"parser")
    spec = EditorSpec(EditConfig(), smoke=False, weights_dir=str(tmp_path))
    before = networks_identity(spec, EditConfig())
    record_file(tmp_path / "seg.pth", get_weight_file("seg.pth"), tmp_path)
    assert networks_identity(spec, EditConfig()) == before
    assert before["files"]["seg.pth"] == read_lock(tmp_path)["seg.pth"].sha256
    assert before["files"]["ffhq.pt"] == "missing" and "e4e_ffhq_encode.pt" not in before["files"]
    assert before["files"]["ffhq_PCA.npz"] == get_weight_file("ffhq_PCA.npz").sha256  # pinned


def test_a_second_driver_on_a_remote_folder_is_refused_until_the_first_ends(folder, stand_in):
    """An fsspec folder (memory://, as an object store) has no flock: the lock is an object
    created only where none is."""
    location = f"memory://{folder.name}/out"
    first, second = OutputDir.at(location), OutputDir.at(location)
    first.prepare()
    with first.lock():
        with pytest.raises(InputError, match=r"another batch is writing to memory://.*\(.*:\d+, since .*delete "):
            run_batch(rows(folder), location, EditorSpec(smoke=True))
        with pytest.raises(InputError, match="another batch is writing to"), second.lock():
            pass
    assert stand_in.edits == []
    assert statuses(run_batch(rows(folder), location, EditorSpec(smoke=True))) == ["done", "done", "failed"]
    with second.lock():  # released by the batch that ended
        pass
