"""The whole page in headless Chromium: `hairedit ui` as a user meets it.

Most tests share one `hairedit ui --smoke` server behind a login; the soak test and the
missing-weights page run their own, in this process, to look inside.
"""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hairedit.cli import build_parser
from hairedit.ui import build_app, launch
from hairedit.ui.command import create_app
from tests.browser import launch_chromium
from tests.test_ui import PAYLOADS, fake_registry  # noqa: F401 (a fixture)

PHOTO_SIZE = (448, 512)  # the astronaut, narrowed so that "the input's size" is not the crop's square
UPLOAD_LIMIT_MB = 2
INVERSION_STEPS = 150  # a few seconds: time to press Stop
LOGIN = ("tester", "a long secret")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()[:, : PHOTO_SIZE[0]]).save(path)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _ui_server(home: Path, *options: str, env: dict[str, str] | None = None):
    """`hairedit ui --smoke ...options` on a free loopback port, run from ``home``; yields (url, process)."""
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HAIREDIT_HOME=str(home), TMPDIR=str(home),
               OMP_NUM_THREADS="1", **(env or {}))
    log = (home / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "hairedit.cli", "ui", "--smoke", "--port", str(port), *options],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
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
    try:
        yield f"http://127.0.0.1:{port}/", process
    finally:
        process.terminate()
        stopped = process.wait(timeout=30)
        log.close()
    said = (home / "server.log").read_text()
    assert f"http://127.0.0.1:{port}" in said  # loopback only by default
    assert "share=True" not in said  # no hint the user cannot act on
    assert stopped == 0
    assert not list(home.glob("hairedit-*"))  # its temporary folders went with it


@contextlib.contextmanager
def _logged_in_server(home: Path, *options: str):
    """A login, 3 steps a stage but a W+ inversion long enough to stop (a step cap of the file's
    own, which --smoke keeps)."""
    settings = {"step_cap": INVERSION_STEPS, "inversion": {"w_steps": INVERSION_STEPS, "fs_steps": 3},
                "text": {"steps": 3}, "reference": {"steps": 3}, "color": {"stage1_steps": 3, "stage2_steps": 3}}
    (home / "settings.json").write_text(json.dumps(settings))
    (home / "logins.txt").write_text(f"{LOGIN[0]}:{LOGIN[1]}\n")
    with _ui_server(home, "--config", str(home / "settings.json"), "--max-upload-mb", str(UPLOAD_LIMIT_MB),
                    "--auth-file", str(home / "logins.txt"), *options) as (url, _):
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shared server."""
    with _logged_in_server(tmp_path_factory.mktemp("ui_home")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = launch_chromium(driver)
        yield chromium
        chromium.close()


def _open(browser, url: str, width: int = 1400, height: int = 1900, login: tuple[str, str] | None = LOGIN):
    """A fresh tab (its own session) on ``url``, logged in; it records requests to anywhere else."""
    tab = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True).new_page()
    tab.outside_requests = []
    tab.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else tab.outside_requests.append(r.url))
    tab.set_default_timeout(90_000)
    tab.goto(url)
    if login is not None:
        _log_in(tab, *login)
    tab.locator("#photo").wait_for()
    return tab


def _log_in(tab, user: str, password: str) -> None:
    tab.locator("input[type=text]").fill(user)
    tab.locator("input[type=password]").fill(password)
    tab.locator("button", has_text="Login").click()


@pytest.fixture
def page(browser, server):
    tab = _open(browser, server)
    yield tab
    tab.context.close()


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


def _wait_for_progress(page, text: str, timeout_ms: int = 90_000) -> None:
    page.wait_for_function(f"document.querySelector('#progress').innerText.includes({text!r})", timeout=timeout_ms)


def _load_photo(page, photo_file):
    page.locator("#photo input[type=file]").set_input_files(str(photo_file))
    page.wait_for_selector("#crop img")


def _pick_colour(page, colour: str) -> None:
    page.click("#colour-from label:has-text('colour picker')")
    page.click("#colour-pick button.dialog-button")
    page.locator("#colour-pick input[type=text]").fill(colour)
    page.locator("#colour-pick input[type=text]").press("Enter")
    page.click("#progress")  # closes the colour dialog


def _message(page, text) -> None:
    """``text`` shows in the message area beside Run, and as no toast over the controls."""
    page.locator("#messages", has_text=text).wait_for()
    assert page.locator(".toast-body").count() == 0


# -- the shared server --------------------------------------------------------------------------


def test_a_wrong_password_is_refused(browser, server):
    tab = browser.new_context().new_page()
    tab.goto(server)
    _log_in(tab, LOGIN[0], "guess")
    tab.get_by_text("Incorrect Credentials").wait_for()
    assert tab.locator("#photo").count() == 0
    _log_in(tab, *LOGIN)
    tab.locator("#photo").wait_for()
    tab.context.close()


def test_stop_in_the_browser(page, photo_file):
    _load_photo(page, photo_file)
    _pick_colour(page, "#c83232")
    page.click("#run")
    _wait_for_progress(page, "inversion (W+)")
    page.click("#stop")
    _wait_for_progress(page, "Stopped", 15_000)
    steps = re.search(r"inversion \(W\+\)\s*(\d+)/(\d+)", _progress(page))
    assert int(steps.group(1)) < int(steps.group(2)) == INVERSION_STEPS  # it stopped half-way
    assert page.locator("#history img").count() == 0 and not page.locator("#download").is_visible()


def test_edit_in_the_browser(page, photo_file, tmp_path):
    page.locator("#smoke-banner").wait_for()  # says the pictures are meaningless
    assert not page.locator("#weights-panel").first.is_visible()  # random networks need no download
    _load_photo(page, photo_file)

    page.click("#sketch-section .label-wrap")
    page.locator("#sketch canvas").first.wait_for()
    _draw(page, "#sketch", (0.35, 0.3), (0.25, 0.7))
    page.click("#sketch-section .label-wrap")  # folded away: its canvas stops drawing
    _pick_colour(page, "#c83232")
    # Each change runs an instant edit: the before/after shows it, then Refine replaces it. The
    # photo's own work was done as it was chosen: every preview is a follow-up.
    compare = page.locator("#compare")
    compare.get_by_text("Instant preview").wait_for(timeout=60_000)
    assert "this photo's work reused" in compare.inner_text()
    assert compare.locator("img").count() == 2
    preview = compare.locator("img").nth(1).get_attribute("src")
    page.screenshot(path=str(tmp_path / "ui_preview.png"))

    page.click("#run")
    _wait_for_progress(page, "Done", 120_000)
    compare.get_by_text("Before / after (faithful preset)").wait_for()
    assert compare.locator("img").nth(1).get_attribute("src") != preview
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
    _wait_for_progress(page, "reused", 120_000)
    assert "inversion (W+)" not in _progress(page)
    assert page.locator("#history img").count() == 2
    assert page.outside_requests == []


def test_faces_are_counted_from_0_and_the_chosen_one_shows(page, tmp_path):
    two = tmp_path / "two.png"  # the astronaut, and beside her a smaller, mirrored astronaut
    canvas = np.full((520, 960, 3), 235, np.uint8)
    canvas[:512, :512] = data.astronaut()
    canvas[:400, 540:940] = np.asarray(Image.fromarray(data.astronaut()).resize((400, 400)))[:, ::-1]
    Image.fromarray(canvas).save(two)
    _load_photo(page, two)
    thumbnails = page.locator("#faces .thumbnail-item")
    assert thumbnails.count() == 2
    assert "face 0 (largest)" in thumbnails.nth(0).inner_text() and "face 1" in thumbnails.nth(1).inner_text()
    assert "selected" in thumbnails.nth(0).get_attribute("class")
    largest = page.locator("#crop img").get_attribute("src")
    thumbnails.nth(1).click()
    page.wait_for_function(f"document.querySelector('#crop img').src != {largest!r}")
    assert "selected" in thumbnails.nth(1).get_attribute("class")
    assert "selected" not in thumbnails.nth(0).get_attribute("class")


def test_bad_photos_get_a_message_beside_run(page, tmp_path):
    broken = tmp_path / "holiday.png"
    broken.write_bytes(b"not a picture")
    page.locator("#photo input[type=file]").set_input_files(str(broken))
    _message(page, "holiday.png is not a readable image")
    assert "/tmp" not in page.locator("#messages").inner_text()  # the file is named as the user knows it

    landscape = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(landscape)
    page.locator("#photo input[type=file]").set_input_files(str(landscape))
    _message(page, re.compile("no face found"))
    page.click("#run")
    _message(page, "upload a photo with a face first")

    huge = tmp_path / "huge.png"
    noise = np.random.default_rng(0).integers(0, 256, (1100, 1100, 3), dtype=np.uint8)  # incompressible: > 3 MB
    Image.fromarray(noise).save(huge)
    page.locator("#photo input[type=file]").set_input_files(str(huge))
    page.locator(".toast-body", has_text=f"maximum allowed size of {UPLOAD_LIMIT_MB:.1f}").wait_for()  # the browser's own
    assert page.outside_requests == []


def test_run_and_stop_are_on_the_first_screen_at_800_px(browser, server, photo_file, tmp_path):
    tab = _open(browser, server, width=800, height=900)
    _load_photo(tab, photo_file)
    _pick_colour(tab, "#c83232")
    tab.click("#run")  # a message under Run must not push Run and Stop away either
    tab.locator("#messages").wait_for()
    _wait_for_progress(tab, "Done", 120_000)
    tab.evaluate("window.scrollTo(0, 0)")  # the first screen, as the page opens
    tab.screenshot(path=str(tmp_path / "ui_800px.png"))
    for button in ("#run", "#stop"):
        box = tab.locator(button).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900, f"{button} is at {box}"
    tab.context.close()


def test_a_full_queue_answers_busy(browser, photo_file, tmp_path):
    # Room for one waiting request; no live previews, whose requests would wait in the queue too.
    with _logged_in_server(tmp_path, "--max-queue", "1", "--no-live-preview") as server:
        _fill_the_queue(browser, server, photo_file, tmp_path)


def _fill_the_queue(browser, server, photo_file, tmp_path):
    mirrored = tmp_path / "mirrored.png"  # a photo not inverted before, so the edit runs a while
    Image.open(photo_file).transpose(Image.FLIP_LEFT_RIGHT).save(mirrored)
    running, waiting, turned_away = (_open(browser, server) for _ in range(3))
    _load_photo(running, mirrored)
    _pick_colour(running, "#c83232")
    running.click("#run")
    _wait_for_progress(running, "inversion (W+)")
    with waiting.expect_response(lambda response: "queue/join" in response.url):
        waiting.click("#run")  # takes the one place in the queue
    turned_away.click("#run")
    turned_away.locator(".toast-body", has_text="currently busy. Please try again").wait_for()
    running.click("#stop")
    _message(waiting, "upload a photo with a face first")  # its turn came: it ran
    for tab in (running, waiting, turned_away):
        tab.context.close()


# -- servers of its own, in this process ----------------------------------------------------------


@contextlib.contextmanager
def _serving(*options: str):
    """`hairedit ui` with ``options``, served from this process: its app can be looked into."""
    args = build_parser("ui").parse_args(["ui", *options])
    app = create_app(args)
    page = build_app(app, args.concurrency)
    url = launch(app, page, "127.0.0.1", _free_port(), 25, block=False)
    try:
        yield app, url
    finally:
        page.close()
        app.close()


def _wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout_s} s: {what}")
        time.sleep(0.2)


def _resident_bytes(pid: int) -> int:
    """Process ``pid``'s resident memory once it has settled (two readings 0.5 s apart within 1 MB)."""

    def reading() -> int:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))

    last, now = reading(), None
    for _ in range(20):
        time.sleep(0.5)
        now = reading()
        if abs(now - last) < 1 << 20:
            break
        last = now
    return now


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


SOAK_TTL_S = 10  # longer than a session takes from upload to Run, on a busy machine too
SOAK_SESSIONS = 4  # each adds 10.8 MB if held: well above the server's ups and downs (a few MB)
BIG_PHOTO_PX = 1600  # a square photo of 7.7 MB as an array: the bulk of what a session holds
# One malloc arena, and large blocks always mapped and unmapped (not kept for the next edit, as
# hairedit.allocator has the command do): with the server trimming its heap as sessions go, its
# resident memory is then what it holds, not what glibc keeps for later.
PLAIN_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(1 << 20), "HAIREDIT_KEEP_FREED_MIB": "0"}


def test_many_sessions_leave_memory_and_disk_as_they_were(browser, tmp_path_factory):
    """Tab after tab uploads a large photo, edits it and goes: what they held goes with them."""
    home = tmp_path_factory.mktemp("soak_home")
    photo = home / "big.png"
    Image.fromarray(data.astronaut()).resize((BIG_PHOTO_PX, BIG_PHOTO_PX), Image.BICUBIC).save(photo)
    session_bytes = BIG_PHOTO_PX**2 * 3 + 1024**2 * 3  # what one session holds: the photo and its aligned crop
    # Refine's instant edits only, no live previews: the sessions' own work, quickly.
    options = ("--preset", "instant", "--seed", "7", "--session-minutes", str(SOAK_TTL_S / 60), "--no-live-preview")
    with _ui_server(home, *options, env=PLAIN_MALLOC) as (url, process):

        def one_session(check_settings: bool = False) -> None:
            tab = _open(browser, url, login=None)
            if check_settings:  # the page starts at the command's preset and seed
                tab.click("#settings .label-wrap")
                assert tab.locator("#preset input[value=instant]").is_checked()
                assert tab.locator("#seed input").input_value() == "7"
            _load_photo(tab, photo)
            _pick_colour(tab, "#c83232")
            tab.click("#run")
            _wait_for_progress(tab, "Done", 120_000)
            tab.context.close()

        one_session(check_settings=True)  # networks built
        one_session()  # and the photo's work reused from the photo cache
        (folder,) = home.glob("hairedit-ui-*")  # results, and Gradio's copies of uploads and results
        # A session's result goes when the session does.
        held = lambda: list(folder.glob("hairedit-edit-*.png"))  # noqa: E731
        _wait_until(lambda: not held(), 4 * SOAK_TTL_S, "the first sessions are still held")
        memory_before = _resident_bytes(process.pid)
        for _ in range(SOAK_SESSIONS):
            one_session()
        _wait_until(lambda: not held(), 4 * SOAK_TTL_S, "sessions are still held")
        grown = _resident_bytes(process.pid) - memory_before
        _wait_until(lambda: _folder_bytes(folder) < photo.stat().st_size, 4 * SOAK_TTL_S,
                    f"{_folder_bytes(folder)} bytes are left in {folder}")
    # Each session held would add session_bytes; less than half of what they all would hold is
    # the server's own ups and downs (a few megabytes, either way).
    print(f"memory grew {grown / 1e6:.1f} MB over {SOAK_SESSIONS} sessions of {session_bytes / 1e6:.1f} MB each")
    assert grown < SOAK_SESSIONS * session_bytes / 2, f"{SOAK_SESSIONS} sessions left {grown / 1e6:.0f} MB behind"


def test_missing_weights_are_offered_in_the_page(browser, fake_registry, photo_file, tmp_path):  # noqa: F811
    weights = tmp_path / "weights"
    with _serving("--weights-dir", str(weights), "--device", "cpu") as (app, url):
        tab = _open(browser, url, login=None)
        tab.locator("#weights-panel").first.wait_for()
        assert "2 pretrained files are missing" in tab.locator("#weights-summary").inner_text()
        tab.locator("#photo input[type=file]").set_input_files(str(photo_file))
        _message(tab, "Pretrained files are missing")
        tab.click("#weights-download")
        tab.wait_for_function(  # a file part-way, as its bar shows
            "[...document.querySelectorAll('#weights-progress li progress')]"
            ".some(bar => bar.value > 0 && bar.value < bar.max)"
        )
        tab.screenshot(path=str(tmp_path / "ui_download.png"))
        tab.locator("#weights-progress", has_text="All pretrained files are here").wait_for()
        assert not tab.locator("#weights-download").is_visible()
        assert (weights / "seg.pth").read_bytes() == PAYLOADS["seg.pth"]
        tab.reload()
        tab.locator("#photo").wait_for()
        time.sleep(1)  # the page's load event has answered
        assert not tab.locator("#weights-panel").first.is_visible()
        tab.context.close()
