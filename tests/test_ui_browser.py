"""The browser interface: its canvases and Stop in-process, and the whole page in headless Chromium."""

import json
import os
import re
import socket
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

from hairedit import EditConfig, HairEditor, ui
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.conditions import load_mask, load_sketch
from hairedit.errors import InputError
from hairedit.networks.bisenet import BACKGROUND, EAR, FACE, HAIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PHOTO_SIZE = (448, 512)  # the astronaut, narrowed so that "the input's size" is not the crop's square
UPLOAD_LIMIT_MB = 2
INVERSION_STEPS = 150  # a few seconds: time to press Stop


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()[:, : PHOTO_SIZE[0]]).save(path)
    return path


def _layer(painted: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    layer = np.zeros((ui.CANVAS_PX, ui.CANVAS_PX, 4), np.uint8)
    layer[painted, :3] = colour
    layer[painted, 3] = 255
    return layer


# -- what the canvases hold ---------------------------------------------------------------------


def test_hairstyle_suggestions_are_hairclips_list():
    names = ui.hairstyle_suggestions()
    assert len(names) == 44 and len(set(names)) == 44
    assert names[0] == "afro hairstyle" and "bob cut hairstyle" in names
    assert all(name.endswith("hairstyle") for name in names)


def test_painted_mask_takes_the_paint_and_keeps_the_parse_elsewhere():
    labels = np.full((64, 64), FACE, np.uint8)
    labels[:16] = HAIR
    labels[40:, 50:] = 13  # a class the mask loss ignores
    assert ui.painted_mask(None, labels) is None
    assert ui.painted_mask({"background": None, "layers": [np.zeros((512, 512, 4), np.uint8)]}, labels) is None

    hair_paint = np.zeros((512, 512), bool)
    hair_paint[200:300, :100] = True
    hair = _layer(hair_paint, ui.MASK_COLOURS[HAIR])
    # A brush edge blends the paint with what is under it: it still counts as the nearest colour.
    hair[200:300, 100, :3] = (np.array(ui.MASK_COLOURS[HAIR]) * 0.8 + np.array(ui.OTHER_COLOUR) * 0.2).astype(np.uint8)
    hair[200:300, 100, 3] = 200
    ear_paint = np.zeros((512, 512), bool)
    ear_paint[250:260, 50:60] = True  # a later layer paints over an earlier one
    painted = ui.painted_mask({"layers": [hair, _layer(ear_paint, ui.MASK_COLOURS[EAR])]}, labels)

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
    image = ui.colour_labels(labels)
    assert image.shape == (512, 512, 3)
    assert tuple(image[0, 0]) == ui.OTHER_COLOUR
    assert tuple(image[100, 300]) == ui.MASK_COLOURS[FACE] and tuple(image[400, 400]) == ui.MASK_COLOURS[HAIR]


def test_sketch_strokes_are_thinned_to_the_official_width():
    assert ui.sketch_strokes({"layers": []}) is None
    drawn = np.zeros((512, 512), np.uint8)
    cv2.line(drawn, (100, 80), (140, 400), 1, thickness=15)
    strokes = ui.sketch_strokes({"layers": [_layer(drawn.astype(bool), (255, 255, 255))]})
    assert set(np.unique(strokes)) == {0, 255}
    rows = (strokes[100:380] > 0).sum(1)
    assert rows.min() >= 1 and rows.max() <= 4  # about 2 px across instead of 15
    assert (strokes > 0).sum() < 0.3 * drawn.sum()
    assert (load_sketch(strokes) > 0).sum() > 0


@pytest.mark.parametrize("value", ["#c83232", "rgb(200, 50, 50)", "rgba(200, 50, 50, 1)", "rgb(200 50 50 / 0.5)"])
def test_colour_picker_values(value):
    assert ui.picker_rgb(value) == (200, 50, 50)


# -- the handlers, in-process -------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    """An app whose inversion takes long enough to be stopped half-way."""
    config = EditConfig.from_dict({"inversion": {"w_steps": 2000, "fs_steps": 3}, "color": {"stage1_steps": 3, "stage2_steps": 3}})
    editor = HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=config, cache_dir=tmp_path_factory.mktemp("cache"))
    return ui.HairEditApp(editor, smoke=True)


def _loaded_session(app, photo_file):
    session = ui.EditSession()
    outputs = app.photo_changed({"path": str(photo_file), "orig_name": photo_file.name}, session)
    assert outputs[2].shape == (1024, 1024, 3)  # the aligned crop is shown
    return session


def test_stop_ends_a_running_edit_and_keeps_nothing(slow_app, photo_file):
    session = _loaded_session(slow_app, photo_file)
    request = gr.Request(session_hash="stopper")
    outputs = slow_app.run(session, "keep", None, None, None, "colour picker", None, "#c83232", "faithful", 0, request)
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


def test_unusable_inputs_are_explained(slow_app, photo_file, tmp_path):
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"not a picture")
    session = ui.EditSession()
    with pytest.warns(UserWarning, match=r"holiday\.jpg is not a readable image"):
        outputs = slow_app.photo_changed({"path": str(broken), "orig_name": "holiday.jpg"}, session)
    assert outputs[0] is None and session.photo is None  # the photo is cleared
    no_face = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)
    with pytest.warns(UserWarning, match="no face found"):
        slow_app.photo_changed({"path": str(no_face), "orig_name": "coffee.png"}, session)

    session = _loaded_session(slow_app, photo_file)
    request = gr.Request(session_hash="asker")
    with pytest.warns(UserWarning, match="type a hairstyle"):
        updates = list(slow_app.run(session, "words", "  ", None, None, "keep", None, None, "faithful", 0, request))
    assert "type a hairstyle" in updates[-1][0]
    mask = {"layers": [_layer(np.ones((512, 512), bool), ui.MASK_COLOURS[HAIR])]}
    with pytest.warns(UserWarning, match="mask steers a hairstyle"):
        list(slow_app.run(session, "keep", None, None, mask, "words", "red hair", None, "faithful", 0, request))


def test_reference_photos_need_a_face(slow_app, photo_file, tmp_path):
    session = _loaded_session(slow_app, photo_file)
    mirrored = tmp_path / "friend.png"
    Image.fromarray(np.ascontiguousarray(data.astronaut()[:, ::-1])).save(mirrored)
    shown, session = slow_app.reference_changed("hairstyle_ref")({"path": str(mirrored), "orig_name": "friend.png"}, session)
    assert session.hairstyle_ref.shape == (512, 512, 3)
    chosen = slow_app.conditions(session, "reference photo", None, None, None, "keep", None, None)
    assert chosen["hairstyle_ref"] is session.hairstyle_ref

    no_face = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)
    with pytest.warns(UserWarning, match="no face found in the colour reference"):
        shown, session = slow_app.reference_changed("color_ref")({"path": str(no_face), "orig_name": "coffee.png"}, session)
    assert shown is None and session.color_ref is None  # cleared from the page too
    with pytest.raises(InputError, match="upload a colour reference photo"):
        slow_app.conditions(session, "keep", None, None, None, "reference photo", None, None)


# -- the page in Chromium -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`hairedit ui --smoke` on a free loopback port; 3 steps a stage but a W+ inversion long enough to stop."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    home = tmp_path_factory.mktemp("ui_home")
    settings = EditConfig.smoke(3).to_dict()
    settings["inversion"]["w_steps"] = INVERSION_STEPS
    (home / "settings.json").write_text(json.dumps(settings))
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HAIREDIT_HOME=str(home), GRADIO_TEMP_DIR=str(home / "gradio"),
               TMPDIR=str(home), OMP_NUM_THREADS="1")
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "hairedit.cli", "ui", "--smoke", "--config", str(home / "settings.json"),
         "--port", str(port), "--max-upload-mb", str(UPLOAD_LIMIT_MB)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`hairedit ui` exited: {(home / 'server.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.terminate()
        pytest.fail("`hairedit ui` did not start within 120 s")
    yield url
    assert f"http://127.0.0.1:{port}" in (home / "server.log").read_text()  # loopback only by default
    process.terminate()
    assert process.wait(timeout=30) == 0
    log.close()
    assert not list(home.glob("hairedit-*"))  # its temporary folders went with it


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1900}, accept_downloads=True)
        tab.outside_requests = []
        tab.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else tab.outside_requests.append(r.url))
        tab.set_default_timeout(90_000)
        tab.goto(server)
        tab.locator("#photo").wait_for()
        yield tab
        browser.close()


def _draw(page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A brush stroke across the canvas of the image editor ``selector``, in fractions of its box."""
    box = page.locator(f"{selector} canvas").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for t in np.linspace(0, 1, 8)[1:]:
        page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
    page.mouse.up()


def _progress(page) -> str:
    return page.locator("#progress").inner_text()


def _load_photo(page, photo_file):
    page.locator("#photo input[type=file]").set_input_files(str(photo_file))
    page.locator("#faces button").first.click()
    page.wait_for_selector("#crop img")


def _pick_colour(page, colour: str) -> None:
    page.click("#colour-from label:has-text('colour picker')")
    page.click("#colour-pick button.dialog-button")
    page.locator("#colour-pick input[type=text]").fill(colour)
    page.locator("#colour-pick input[type=text]").press("Enter")
    page.click("#progress")  # closes the colour dialog


@pytest.mark.browser
def test_stop_in_the_browser(page, photo_file):
    _load_photo(page, photo_file)
    _pick_colour(page, "#c83232")
    page.click("#run")
    page.wait_for_function("document.querySelector('#progress').innerText.includes('inversion (W+)')")
    page.click("#stop")
    page.wait_for_function("document.querySelector('#progress').innerText.includes('Stopped')", timeout=15_000)
    steps = re.search(r"inversion \(W\+\)\s*(\d+)/(\d+)", _progress(page))
    assert int(steps.group(1)) < int(steps.group(2)) == INVERSION_STEPS  # it stopped half-way
    assert page.locator("#history img").count() == 0 and not page.locator("#download").is_visible()


@pytest.mark.browser
def test_edit_in_the_browser(page, photo_file, tmp_path):
    page.locator("#smoke-banner").wait_for()  # says the pictures are meaningless
    _load_photo(page, photo_file)

    page.click("#sketch-section .label-wrap")
    page.locator("#sketch canvas").first.wait_for()
    _draw(page, "#sketch", (0.35, 0.3), (0.25, 0.7))
    page.click("#sketch-section .label-wrap")  # folded away: its canvas stops drawing
    _pick_colour(page, "#c83232")

    page.click("#run")
    page.wait_for_function("document.querySelector('#progress').innerText.includes('Done')")
    assert "inversion (W+)" in _progress(page) and "colour proxy" in _progress(page)
    assert "sketch" in page.locator("#proxies").inner_text()
    page.locator("#download").wait_for()
    page.screenshot(path=str(tmp_path / "ui_result.png"))

    with page.expect_download() as download:
        page.click("#download")
    result = Image.open(download.value.path())
    assert result.size == PHOTO_SIZE and result.mode == "RGB"
    before = np.asarray(Image.open(photo_file))
    changed = np.any(np.asarray(result) != before, axis=2)
    assert 0 < changed.mean() < 0.5  # the hair changed, the photo did not

    # A second edit of the same photo starts from its cached inversion.
    _pick_colour(page, "#3050c8")
    page.click("#run")
    page.wait_for_function("document.querySelector('#progress').innerText.includes('reused')")
    assert "inversion (W+)" not in _progress(page)
    assert page.locator("#history img").count() == 2
    assert page.outside_requests == []


@pytest.mark.browser
def test_bad_photos_get_a_message_in_the_page(page, tmp_path):
    broken = tmp_path / "holiday.png"
    broken.write_bytes(b"not a picture")
    page.locator("#photo input[type=file]").set_input_files(str(broken))
    message = page.locator(".toast-body", has_text="holiday.png is not a readable image")
    message.wait_for()
    assert "/tmp" not in message.inner_text()  # the file is named as the user knows it

    landscape = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(landscape)
    page.locator("#photo input[type=file]").set_input_files(str(landscape))
    page.locator(".toast-body", has_text=re.compile("no face found")).wait_for()
    page.screenshot(path=str(tmp_path / "ui_no_face.png"))
    page.click("#run")
    page.locator(".toast-body", has_text="upload a photo with a face first").wait_for()

    huge = tmp_path / "huge.png"
    noise = np.random.default_rng(0).integers(0, 256, (1100, 1100, 3), dtype=np.uint8)  # incompressible: > 3 MB
    Image.fromarray(noise).save(huge)
    page.locator("#photo input[type=file]").set_input_files(str(huge))
    page.locator(".toast-body", has_text=f"maximum allowed size of {UPLOAD_LIMIT_MB:.1f}").wait_for()
    assert page.outside_requests == []
