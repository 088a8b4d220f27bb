"""The browser interface in-process: its canvases, sessions, logins, download offer and handlers.

The page itself, in headless Chromium, is tests/test_ui_browser.py.
"""

import argparse
import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.cli import main
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.conditions import load_mask, load_sketch
from hairedit.errors import EditInterrupted, InputError
from hairedit.labels import BACKGROUND, EAR, FACE, HAIR
from hairedit.progress import Progress
from hairedit.ui import canvas, command, render
from hairedit.ui.handlers import EDIT_PROGRESS_EVERY_S, HairEditApp
from hairedit.ui.session import HISTORY_LIMIT, SessionStore
from hairedit.ui.weights import WeightsDownload
from hairedit.weight_needs import files_used
from hairedit.weights import registry
from hairedit.weights.registry import UrlFile, WeightFile
from tests.test_weights import Server

PHOTO_SIZE = (448, 512)  # the astronaut, narrowed so that "the input's size" is not the crop's square


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()[:, : PHOTO_SIZE[0]]).save(path)
    return path


def layer(painted: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """An image editor layer (CANVAS_PX, CANVAS_PX, 4) with ``colour`` where ``painted``."""
    result = np.zeros((canvas.CANVAS_PX, canvas.CANVAS_PX, 4), np.uint8)
    result[painted, :3] = colour
    result[painted, 3] = 255
    return result


# -- what the canvases hold ---------------------------------------------------------------------


def test_hairstyle_suggestions_are_hairclips_list():
    names = canvas.hairstyle_suggestions()
    assert len(names) == 44 and len(set(names)) == 44
    assert names[0] == "afro hairstyle" and "bob cut hairstyle" in names
    assert all(name.endswith("hairstyle") for name in names)


def test_painted_mask_takes_the_paint_and_keeps_the_parse_elsewhere():
    labels = np.full((64, 64), FACE, np.uint8)
    labels[:16] = HAIR
    labels[40:, 50:] = 13  # a class the mask loss ignores
    assert canvas.painted_mask(None, labels) is None
    assert canvas.painted_mask({"background": None, "layers": [np.zeros((512, 512, 4), np.uint8)]}, labels) is None

    hair_paint = np.zeros((512, 512), bool)
    hair_paint[200:300, :100] = True
    hair = layer(hair_paint, canvas.MASK_COLOURS[HAIR])
    # A brush edge blends the paint with what is under it: it still counts as the nearest colour.
    blended = np.array(canvas.MASK_COLOURS[HAIR]) * 0.8 + np.array(canvas.OTHER_COLOUR) * 0.2
    hair[200:300, 100, :3] = blended.astype(np.uint8)
    hair[200:300, 100, 3] = 200
    ear_paint = np.zeros((512, 512), bool)
    ear_paint[250:260, 50:60] = True  # a later layer paints over an earlier one
    painted = canvas.painted_mask({"layers": [hair, layer(ear_paint, canvas.MASK_COLOURS[EAR])]}, labels)

    assert painted.shape == (512, 512) and painted.dtype == np.uint8
    assert (painted[200:300, :101][~ear_paint[200:300, :101]] == HAIR).all()
    assert (painted[ear_paint] == EAR).all()
    untouched = np.ones((512, 512), bool)
    untouched[200:300, :101] = False
    expected = cv2.resize(labels, (512, 512), interpolation=cv2.INTER_NEAREST)
    assert (painted[untouched] == expected[untouched]).all()
    assert (load_mask(painted) == painted).all()  # the pipeline takes it as it is


def test_parse_colours_cover_every_label():
    labels = np.array([[BACKGROUND, FACE], [EAR, HAIR]], np.uint8).repeat(32, 0).repeat(32, 1)
    labels[0, 0] = 4  # an eye: not paintable, shown as "other"
    image = canvas.colour_labels(labels)
    assert image.shape == (512, 512, 3)
    assert tuple(image[0, 0]) == canvas.OTHER_COLOUR
    assert tuple(image[100, 300]) == canvas.MASK_COLOURS[FACE] and tuple(image[400, 400]) == canvas.MASK_COLOURS[HAIR]


def test_sketch_strokes_are_thinned_to_the_official_width():
    assert canvas.sketch_strokes({"layers": []}) is None
    drawn = np.zeros((512, 512), np.uint8)
    cv2.line(drawn, (100, 80), (140, 400), 1, thickness=15)
    strokes = canvas.sketch_strokes({"layers": [layer(drawn.astype(bool), (255, 255, 255))]})
    assert set(np.unique(strokes)) == {0, 255}
    rows = (strokes[100:380] > 0).sum(1)
    assert rows.min() >= 1 and rows.max() <= 4  # about 2 px across instead of 15
    assert (strokes > 0).sum() < 0.3 * drawn.sum()
    assert (load_sketch(strokes) > 0).sum() > 0


@pytest.mark.parametrize("value", ["#c83232", "rgb(200, 50, 50)", "rgba(200, 50, 50, 1)", "rgb(200 50 50 / 0.5)"])
def test_colour_picker_values(value):
    assert canvas.picker_rgb(value) == (200, 50, 50)


# -- sessions: bounded in number, time and files --------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_idle_sessions_expire_and_take_their_results_along():
    clock = Clock()
    store = SessionStore(ttl_s=60, max_sessions=4, clock=clock)
    kept, idle = store.get("kept"), store.get("idle")
    idle.photo = np.zeros((2000, 1000, 3), np.uint8)
    result = store.save_result(idle, Image.new("RGB", (8, 8)), "red hair")
    assert result.is_file() and idle.history[0][1] == "#1: red hair"
    clock.now = 50
    assert store.get("kept") is kept  # a tab in use stays
    clock.now = 61
    assert store.expire() == 1 and len(store) == 1
    assert not result.exists()
    again = store.get("idle")
    assert again.photo is None and again.follows_forgotten  # the tab is told why its photo is gone
    assert store.get("kept") is kept and not kept.follows_forgotten
    store.close()
    assert not store.output_dir.exists()


def test_sessions_past_the_cap_let_the_longest_idle_go():
    clock = Clock()
    store = SessionStore(ttl_s=3600, max_sessions=2, clock=clock)
    first = store.get("first")
    results = [store.save_result(first, Image.new("RGB", (8, 8)), "colour")]
    clock.now = 1
    store.get("second")
    clock.now = 2
    store.get("first")  # used again: "second" is now the longest idle
    clock.now = 3
    store.get("third")
    assert len(store) == 2 and store.get("first") is first and store.get("second").follows_forgotten
    assert results[0].is_file()
    store.forget("first")  # its tab closed
    assert not results[0].exists()
    store.close()


def test_a_tab_keeps_its_newest_results_only():
    store = SessionStore()
    session = store.get("tab")
    paths = [store.save_result(session, Image.new("RGB", (8, 8)), f"edit {i}") for i in range(HISTORY_LIMIT + 3)]
    assert [path for path, _ in session.history] == paths[::-1][:HISTORY_LIMIT]
    assert sorted(store.output_dir.iterdir()) == sorted(paths[3:])
    store.close()


def test_the_before_after_shows_jpegs_writing_the_photos_once_and_they_go_with_the_session():
    store = SessionStore()
    session = store.get("tab")
    session.photo = data.astronaut()
    shown = [store.before_after(session, session.photo, Image.new("RGB", (8, 8), (i, 0, 0)))
             for i in range(HISTORY_LIMIT + 3)]
    befores = {before for before, _ in shown}
    assert len(befores) == 1  # the photo's file, written once for all its edits and previews
    before = Image.open(befores.pop())
    assert before.format == "JPEG" and before.size == (512, 512)
    assert np.abs(np.asarray(before, np.int16) - data.astronaut()).mean() < 2  # shown as it is
    assert Image.open(shown[-1][1]).getpixel((4, 4))[0] == pytest.approx(HISTORY_LIMIT + 2, abs=2)
    # The photo's file stays while it is shown, with the newest afters; older afters went.
    assert sorted(store.output_dir.iterdir()) == sorted({Path(shown[0][0])} | {Path(a) for _, a in shown[3:]})
    stale = session.photo
    session.clear_photo()
    session.photo = np.zeros((64, 64, 3), np.uint8)
    stale_before, _ = store.before_after(session, stale, Image.new("RGB", (8, 8)))  # a preview that outlived its photo
    new_before, _ = store.before_after(session, session.photo, Image.new("RGB", (8, 8)))
    assert Image.open(new_before).size == (64, 64) and Image.open(stale_before).size == (512, 512)
    store.forget("tab")
    assert list(store.output_dir.iterdir()) == []
    store.close()


def test_result_names_cannot_be_guessed_by_other_users():
    # Every logged-in user may ask the server for files in the results folder: names alone protect them.
    store = SessionStore()
    names = [store.save_result(store.get(tab), Image.new("RGB", (8, 8)), "edit").name for tab in ("a", "b")]
    assert all(len(name) > len("hairedit-edit-1-.png") + 20 for name in names)
    assert names[0].split("-")[-1] != names[1].split("-")[-1]
    store.close()


def test_a_huge_canvas_layer_is_refused_before_gradio_decodes_it(tmp_path, monkeypatch):
    from gradio.data_classes import FileData
    from PIL import ImageFile

    from hairedit.ui.canvas_editor import canvas_editor
    from tests.test_imageio import _blank_png

    editor = canvas_editor(type="numpy", image_mode="RGBA")
    Image.new("RGBA", (512, 512)).save(tmp_path / "layer.png")
    assert editor.convert_and_format_image(FileData(path=str(tmp_path / "layer.png"))).shape == (512, 512, 4)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the layer was decoded"))
    for side_px in (3000, 20000):  # within Pillow's own limit, and a 400-megapixel bomb of 60 kB
        _blank_png(tmp_path / "big.png", side_px, side_px)
        with pytest.raises(gr.Error, match="far larger than the 512x512 canvas"):
            editor.convert_and_format_image(FileData(path=str(tmp_path / "big.png")))


def test_session_bytes_count_the_photos_held():
    session = SessionStore().get("tab")
    session.photo = np.zeros((300, 200, 3), np.uint8)
    session.color_ref = np.zeros((100, 100, 3), np.uint8)
    assert session.nbytes() == 300 * 200 * 3 + 100 * 100 * 3


# -- who may use the page -----------------------------------------------------------------------


def ui_args(*options: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    return parser.parse_args(["ui", *options])


def test_beyond_loopback_a_login_is_required(capsys):
    assert main(["ui", "--smoke", "--host", "0.0.0.0"]) == 2
    assert "--auth USER:PASSWORD" in capsys.readouterr().err  # refused before anything loads or listens
    assert command.logins(ui_args("--host", "0.0.0.0", "--no-auth"), {}) is None
    assert command.logins(ui_args(), {}) is None  # this computer only: no login needed
    with pytest.raises(InputError, match="contradicts"):
        command.logins(ui_args("--no-auth", "--auth", "ann:pw"), {})


def test_logins_come_from_the_option_a_file_and_the_environment(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("# who may edit\nann:first:pw\n\n  bob:pw2\n")
    found = command.logins(
        ui_args("--host", "0.0.0.0", "--auth", "cat:pw3", "--auth-file", str(logins)), {command.AUTH_ENV: "dan:pw4"}
    )
    assert found == [("cat", "pw3"), ("ann", "first:pw"), ("bob", "pw2"), ("dan", "pw4")]
    for bad in ("ann", "ann:", ":pw"):
        with pytest.raises(InputError, match="USER:PASSWORD"):
            command.logins(ui_args("--auth", bad), {})
    logins.write_text("# nobody\n")
    with pytest.raises(InputError, match="holds no login"):
        command.logins(ui_args("--auth-file", str(logins)), {})


def test_ui_help_loads_neither_gradio_nor_torch():
    code = (
        "import sys\nfrom hairedit.cli import main\ntry:\n    main(['ui', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({'torch', 'gradio'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--auth-file" in out and out.strip().endswith("[]")


def test_an_exposed_page_without_a_login_is_refused_before_gradio_or_torch_loads():
    code = (
        "import sys\nfrom hairedit.cli import main\ncode = main(['ui', '--host', '0.0.0.0', '--smoke'])\n"
        "print(code, sorted({'torch', 'gradio'} & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "2 []"
    assert run.stderr.startswith("hairedit: error: --host 0.0.0.0 lets anyone who can reach this computer use the page")


# -- missing pretrained files ---------------------------------------------------------------------

# Over 1 MiB each: the downloader reports a MiB at a time, so progress shows between.
PAYLOADS = {"seg.pth": bytes(range(256)) * 10240, "ffhq.pt": bytes(reversed(range(256))) * 9216}  # 2.5, 2.25 MiB


def _test_file(name: str, url: str) -> WeightFile:
    body = PAYLOADS[name]
    return WeightFile(name, "a test file", (UrlFile(url),), size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest(),
                      licence="MIT", licence_source="https://example.org/LICENSE")


@pytest.fixture
def fake_registry(monkeypatch):
    """The registry with two small files, served from 127.0.0.1 at 2.5 MiB/s at most, in place of
    every file an edit needs (the face detector's, inside a package, stays)."""
    server = Server()
    server.files = {f"/{name}": body for name, body in PAYLOADS.items()}
    server.chunk_bytes, server.pause_s = 128 * 1024, 0.05
    used = set(files_used("faithful"))  # before any goes: a tokenizer's use follows its model's entry
    for name in used - {"shape_predictor_68_face_landmarks.dat"}:
        monkeypatch.delitem(registry.WEIGHTS, name)
    for name in PAYLOADS:
        monkeypatch.setitem(registry.WEIGHTS, name, _test_file(name, f"{server.url}/{name}"))
    yield server
    server.close()


def test_the_page_offers_what_the_terminal_download_fetches(tmp_path):
    offered = {entry.name for entry in WeightsDownload(tmp_path, "faithful").missing()}
    assert "ffhq_PCA.npz" in offered  # optional, but the official prior: without it one is computed
    assert "e4e_ffhq_encode.pt" not in offered and "inception_fid.pth" not in offered
    instant = {entry.name for entry in WeightsDownload(tmp_path, "instant").missing()}
    assert {"e4e_ffhq_encode.pt", "hairclip.pt", "ffhq.pt"} <= instant and "ffhq_PCA.npz" not in instant  # no W+ loop


def test_the_page_downloads_what_is_missing_with_progress(fake_registry, tmp_path, monkeypatch, caplog):
    job = WeightsDownload(tmp_path / "weights", "faithful")
    assert [entry.name for entry in job.missing()] == ["seg.pth", "ffhq.pt"]
    pages, partial = [], set()
    job.start()
    while job.running:
        pages.append(render.download_progress(job.progress, job.running, job.failed))
        if job.progress is not None and 0 < job.progress.file_bytes < len(PAYLOADS[job.progress.name]):
            partial.add(job.progress.name)
        job.wait(0.05)
    assert not job.failed and job.missing() == []
    job.start()  # another tab asks once everything is here: nothing is fetched
    assert not job.running and job.progress is None
    assert (tmp_path / "weights" / "ffhq.pt").read_bytes() == PAYLOADS["ffhq.pt"]
    assert partial == set(PAYLOADS)  # each file's bytes showed while it came in
    assert any("<progress value=" in page for page in pages)
    assert "All pretrained files are here" in render.download_progress(job.progress, job.running, job.failed)

    monkeypatch.setitem(registry.WEIGHTS, "seg.pth", _test_file("seg.pth", f"{fake_registry.url}/missing/seg.pth"))
    (tmp_path / "weights" / "seg.pth").unlink()
    job.start()
    job.wait(30)
    assert job.failed
    shown = render.download_progress(job.progress, job.running, job.failed)
    assert "The download failed" in shown and "404" not in shown  # the raw error goes to the terminal
    assert "404" in caplog.text


# -- the handlers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    """An app whose inversion takes long enough to be stopped half-way."""
    config = EditConfig.from_dict({"inversion": {"w_steps": 2000, "fs_steps": 3}, "color": {"stage1_steps": 3, "stage2_steps": 3}})
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config, cache_dir=tmp_path_factory.mktemp("cache"))
    app = HairEditApp(editor, smoke=True)
    yield app
    app.close()


def upload(path, name=None) -> dict:
    return {"path": str(path), "orig_name": name or path.name}


def load(app, photo_file, tab: str):
    outputs = app.photo_changed(upload(photo_file), gr.Request(session_hash=tab))
    assert outputs[2].shape == (1024, 1024, 3)  # the aligned crop is shown
    assert outputs[1]["selected_index"] == 0 and outputs[1]["value"][0][1] == "face 0 (largest)"
    return app.sessions.get(tab)


def test_stop_ends_a_running_edit_and_keeps_nothing(slow_app, photo_file):
    session = load(slow_app, photo_file, "stopper")
    request = gr.Request(session_hash="stopper")
    outputs = slow_app.run("keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0, request)
    for update in outputs:
        if "inversion (W+)" in update[0]:
            break
    started = time.perf_counter()
    slow_app.stop(request)
    rest = list(outputs)
    assert time.perf_counter() - started < 10
    assert "Stopped" in rest[-1][0]
    assert not session.history
    assert not [t for t in threading.enumerate() if t.name == "hairedit-edit"]


def test_unusable_inputs_are_explained_beside_run(slow_app, photo_file, tmp_path):
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"not a picture")
    request = gr.Request(session_hash="asker")
    outputs = slow_app.photo_changed(upload(broken), request)
    assert "holiday.jpg is not a readable image" in outputs[-1] and str(tmp_path) not in outputs[-1]
    assert outputs[0] is None and slow_app.sessions.get("asker").photo is None  # the photo is cleared
    no_face = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)
    assert "no face found" in slow_app.photo_changed(upload(no_face), request)[-1]
    assert "upload a photo with a face first" in list(slow_app.run("words", "bob", None, None, "keep", None, None,
                                                                   "faithful", 0, request))[-1][-1]

    load(slow_app, photo_file, "asker")
    updates = list(slow_app.run("words", "  ", None, None, "keep", None, None, "faithful", 0, request))
    assert "type a hairstyle" in updates[-1][-1]
    mask = {"layers": [layer(np.ones((512, 512), bool), canvas.MASK_COLOURS[HAIR])]}
    updates = list(slow_app.run("keep", None, None, mask, "words", "red hair", None, "faithful", 0, request))
    assert "mask steers a hairstyle" in updates[-1][-1]


def test_reference_photos_need_a_face(slow_app, photo_file, tmp_path):
    session = load(slow_app, photo_file, "referrer")
    request = gr.Request(session_hash="referrer")
    mirrored = tmp_path / "friend.png"
    Image.fromarray(np.ascontiguousarray(data.astronaut()[:, ::-1])).save(mirrored)
    slow_app.reference_changed("hairstyle_ref")(upload(mirrored), request)
    assert session.hairstyle_ref.shape == (512, 512, 3)
    chosen = slow_app.conditions(session, "reference photo", None, None, None, "keep", None, None)
    assert chosen["hairstyle_ref"] is session.hairstyle_ref

    no_face = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)
    shown, note = slow_app.reference_changed("color_ref")(upload(no_face), request)
    assert shown is None and session.color_ref is None and "no face found in the colour reference" in note
    with pytest.raises(InputError, match="upload a colour reference photo"):
        slow_app.conditions(session, "keep", None, None, None, "reference photo", None, None)


def test_a_bug_reaches_the_terminal_not_the_page(slow_app, photo_file, monkeypatch, capsys):
    load(slow_app, photo_file, "unlucky")

    def broken_edit(*args, **kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(slow_app.editor, "edit", broken_edit)
    updates = list(slow_app.run("keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0,
                                gr.Request(session_hash="unlucky")))
    assert "terminal" in updates[-1][-1] and "secret internals" not in "".join(map(str, updates[-1]))
    assert "ZeroDivisionError: secret internals" in capsys.readouterr().err


def test_an_edits_many_steps_reach_the_page_at_most_twice_a_second(slow_app, photo_file, monkeypatch):
    # Each message makes Gradio's page upload every drawn canvas again (docs/ui.md).
    load(slow_app, photo_file, "stepper")

    def many_quick_steps(*args, callback, **kwargs):
        for step in range(1, 61):
            callback(Progress("inversion (W+)", step, 60, loss=1.0))
            time.sleep(0.02)
        raise EditInterrupted("stopped")

    monkeypatch.setattr(slow_app.editor, "edit", many_quick_steps)
    shown = []
    for update in slow_app.run("keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0,
                               gr.Request(session_hash="stepper")):
        shown.append((time.monotonic(), update[0]))
    running = [(at, board) for at, board in shown if "Running" in board]
    times = [at for at, _ in running]
    assert len(running) >= 2 and all(later - earlier >= EDIT_PROGRESS_EVERY_S for earlier, later in zip(times, times[1:]))
    assert "60/60" in running[-1][1] and "Stopped" in shown[-1][1]  # the last step is shown, then the end


def test_a_closed_tab_lets_its_photo_go(slow_app, photo_file):
    load(slow_app, photo_file, "leaver")
    held = len(slow_app.sessions)
    slow_app.forget(gr.Request(session_hash="leaver"))
    assert len(slow_app.sessions) == held - 1


def _preview_labels(app, tab: str) -> list[str]:
    labels = []
    for hairstyle, colour in (("bob cut hairstyle", "#c83232"), ("afro hairstyle", "#3232c8")):
        shown, message = app.live_preview("words", hairstyle, None, None, "colour picker", None, colour, 1, True,
                                          gr.Request(session_hash=tab))
        assert message == ""
        labels.append(shown["label"])
    return labels


def test_a_live_preview_of_a_loaded_photo_reuses_its_work(photo_file):
    """After the first preview, a new hairstyle or colour takes the photo's per-photo work from
    the editor's photo cache; with the photo prepared as it was chosen (as the page does), the
    first preview does too."""
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1, "instant"))
    app = HairEditApp(editor, smoke=True)
    try:
        load(app, photo_file, "tab")
        labels = _preview_labels(app, "tab")
        assert "reused" not in labels[0] and "this photo's work reused" in labels[1]
        editor.photo_cache.clear()
        app.prepare_photo(1, True, gr.Request(session_hash="tab"))
        assert all("this photo's work reused" in label for label in _preview_labels(app, "tab"))
    finally:
        app.close()


def test_the_every_face_box_edits_every_face(slow_app, photo_file, monkeypatch):
    session = load(slow_app, photo_file, "everyone")
    request = gr.Request(session_hash="everyone")
    asked = []

    def edit(photo, face=0, **options):
        asked.append(face)
        raise InputError("stopped here by the test")

    monkeypatch.setattr(slow_app.editor, "edit", edit)
    slow_app.every_face_changed(True, request)
    assert session.edited_face == "all"
    rest = list(slow_app.run("keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0, request))
    assert asked == ["all"] and "stopped here by the test" in rest[-1][-1]
    slow_app.every_face_changed(False, request)
    list(slow_app.run("keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0, request))
    assert asked == ["all", 0]
