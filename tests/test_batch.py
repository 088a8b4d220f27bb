"""`hairedit batch` on real photos (the astronaut; a group photo of six people) with small
random networks, as a user runs it: a manifest over several photos, faces and modes with a
bad row; a batch killed with SIGKILL in the middle of a row, then rerun on two worker
processes; a local Ray cluster with an actor killed mid-batch. (tests/test_batch_rows.py
checks the manifests and the bookkeeping without networks.)"""

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from hairedit.batch import EditorSpec, RowDefaults, RowOutcome, read_manifest, run_batch
from hairedit.batch.outputs import ROWS, STATE_DIR
from hairedit.cli import main
from hairedit.commands import read_config
from hairedit.samples import sample_sketch
from tests.real_photos import IMAGES, insightface_wheel

STEPS = {"inversion": {"w_steps": 2, "fs_steps": 2}, "text": {"steps": 2}, "reference": {"steps": 2},
         "color": {"stage1_steps": 2, "stage2_steps": 2}}
MANIFEST = """photo,hairstyle,hairstyle_ref,sketch,color,rgb,face,seed,output
astronaut.png,bob cut hairstyle,,,,,,1,astro_bob.png
astronaut.png,,,,,crimson,,,astro_crimson.png
group.jpg,,,strokes.png,,,0,,group_face0_sketch.png
group.jpg,,,,purple hair,,2,,group_face2_purple.jpg
group.jpg,,astronaut.png,,,"40,40,200",1,,group_face1_ref.webp
astronaut.png,,,,,blue,9,,astro_face9.png
"""
OUTPUTS = ["astro_bob.png", "astro_crimson.png", "group_face0_sketch.png", "group_face2_purple.jpg",
           "group_face1_ref.webp"]
SIZES = {"astro": (512, 512), "group": (1280, 886)}
BAD_ROW = 6  # no face 9 in the astronaut portrait


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch_inputs")
    with zipfile.ZipFile(insightface_wheel()) as wheel:  # six people; the file as the wheel has it
        (folder / "group.jpg").write_bytes(wheel.read(IMAGES + "t1.jpg"))
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(sample_sketch(512)).save(folder / "strokes.png")
    (folder / "quick.json").write_text(json.dumps(STEPS))
    (folder / "edits.csv").write_text(MANIFEST)
    return folder


def batch_argv(inputs: Path, out: Path, *options) -> list[str]:
    return ["batch", str(inputs / "edits.csv"), "-o", str(out), "--smoke", "--config", str(inputs / "quick.json"),
            *options]


def run_cli(argv: list[str], home: Path) -> tuple[int, str, str]:
    """main(argv) with its own weights (and inversion cache) folder; (status, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        patch.setenv("HAIREDIT_HOME", str(home))
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def run_without_work(argv: list[str], home: Path) -> tuple[int, str, str]:
    """A run that must not even build an editor."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EditorSpec, "build", lambda *a: pytest.fail("an editor was built: the rerun did work"))
        return run_cli(argv, home)


def report(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]


def digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in OUTPUTS}


def assert_complete(out: Path) -> None:
    """Every row's output once, nothing half-written, each row once in the report."""
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts}
    assert files == {*OUTPUTS, "report.jsonl"}
    lines = report(out)
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [line["status"] for line in lines].count("failed") == 1 and lines[BAD_ROW - 1]["status"] == "failed"
    for name in OUTPUTS:
        states = sorted(p.name.rpartition(".")[2] for p in (out / ROWS / name).iterdir())
        assert states == ["done"], (name, states)
        image = Image.open(out / name)
        assert image.size == SIZES[name.split("_")[0]]
        assert image.format == {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[Path(name).suffix]


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    return out, run_cli(batch_argv(inputs, out), tmp_path_factory.mktemp("home"))


def test_a_manifest_over_several_photos_and_modes_completes_with_the_bad_row_reported(inputs, reference, tmp_path):
    out, (code, stdout, stderr) = reference
    assert code == 1
    assert stdout.startswith("batch: 6 rows: 5 done, 0 skipped (done before), 1 failed; ")
    assert f"reasons in {out / 'report.jsonl'}" in stdout
    assert "6/6" in stderr and "s/row" in stderr and "row 1: align 1/1" in stderr  # one bar: rate, stage
    assert_complete(out)
    # The bad row's reason is edit's own message for the same request.
    code, _, edit_error = run_cli(["edit", str(inputs / "astronaut.png"), "-o", str(tmp_path / "x.png"), "--smoke",
                                   "--face", "9", "--rgb", "blue"], tmp_path)
    assert code == 2
    assert edit_error == f"hairedit: error: {report(out)[BAD_ROW - 1]['error']}\n"
    # Real edits: each output differs from its photo and from the other edits of that photo.
    astronaut = Image.open(inputs / "astronaut.png").tobytes()
    assert len({Image.open(out / name).tobytes() for name in OUTPUTS[:2]} | {astronaut}) == 3


def test_a_second_run_does_no_work(reference, inputs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    before = digests(out)
    code, stdout, stderr = run_without_work(batch_argv(inputs, out), tmp_path)
    assert code == 1 and stdout.startswith("batch: 6 rows: 0 done, 5 skipped (done before), 1 failed")
    assert "6 rows, 6 need no work, 0 to edit" in stderr
    assert digests(out) == before
    assert [line["status"] for line in report(out)] == ["skipped"] * 5 + ["failed"]
    assert report(out)[BAD_ROW - 1]["error"] == report(reference[0])[BAD_ROW - 1]["error"]


@pytest.fixture(scope="module")
def killed_and_rerun(inputs, tmp_path_factory):
    """A batch killed with SIGKILL while its second or later row runs; rerun on two worker
    processes; rerun again."""
    out, home = tmp_path_factory.mktemp("killed") / "out", tmp_path_factory.mktemp("home")
    process = subprocess.Popen([sys.executable, "-m", "hairedit.cli", *batch_argv(inputs, out)],
                               env={**os.environ, "HAIREDIT_HOME": str(home)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not (_done_marks(out) and list(out.glob(f"{ROWS}/*/*.writing"))):
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "the batch did not get to its second row"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # Done is what the batch marked done: an output written just before the kill, whose mark was
    # not, is rightly redone (however fast the machine got there).
    done_before = _done_marks(out)
    rerun = run_cli(batch_argv(inputs, out, "--workers", "2"), home), report(out)
    second = run_without_work(batch_argv(inputs, out), home)
    return out, done_before, rerun, second


def _done_marks(out) -> set[str]:
    """The outputs the batch has marked done (its own ``.done`` files)."""
    return {name for name in OUTPUTS if list((out / ROWS / name).glob("*.done"))}


def test_a_batch_killed_mid_row_then_rerun_ends_with_every_row_done_once(killed_and_rerun):
    out, done_before, ((code, stdout, stderr), rerun_report), (second_code, second_stdout, _) = killed_and_rerun
    assert 1 <= len(done_before) < len(OUTPUTS)
    assert code == 1
    assert stdout.startswith(f"batch: 6 rows: {5 - len(done_before)} done, {len(done_before)} skipped (done before), "
                             "1 failed")
    skipped = {line["output"] for line in rerun_report if line["status"] == "skipped"}
    assert skipped == done_before  # what the killed batch finished is kept, not redone
    assert "on 2 workers" in stderr  # the rerun's rows went to two worker processes
    assert len({line["worker"] for line in rerun_report if line["status"] == "done"}) == 2
    assert_complete(out)
    assert second_code == 1 and second_stdout.startswith("batch: 6 rows: 0 done, 5 skipped (done before), 1 failed")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray instance of 2 CPUs; its workers get their own weights folder (and
    inversion cache), given to them explicitly: the home the driver had when Ray started
    need not be the workers'."""
    ray = pytest.importorskip("ray", reason="Ray tests need the ray extra: pip install 'hairedit[ray]'")
    home = tmp_path_factory.mktemp("ray_home")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning",
             runtime_env={"env_vars": {"HAIREDIT_HOME": str(home)}})
    yield home
    ray.shutdown()


@pytest.fixture(scope="module")
def smoke_config(inputs):
    """The settings `batch_argv` gives the command."""
    return read_config(argparse.Namespace(smoke=True, config=str(inputs / "quick.json"), preset=None))


@pytest.fixture(scope="module")
def on_ray(inputs, smoke_config, ray_cluster, tmp_path_factory):
    """The manifest through the Python API on Ray, writing to a file:// URL (fsspec); one
    actor is killed (SIGKILL) right after its first row, while it runs its next."""
    out = tmp_path_factory.mktemp("ray") / "out"
    killed = []

    def kill_an_actor(event) -> None:
        if isinstance(event, RowOutcome) and event.status == "done" and not killed:
            killed.append(int(event.worker.rsplit(":", 1)[1]))
            os.kill(killed[0], signal.SIGKILL)

    summary = run_batch(read_manifest(inputs / "edits.csv"), f"file://{out}", EditorSpec(smoke_config, smoke=True),
                        defaults=RowDefaults(seed=0), workers=2, cluster="local", on_event=kill_an_actor)
    return out, summary, killed, ray_cluster


def test_on_ray_an_actor_killed_mid_batch_still_gives_a_complete_batch(on_ray, reference, inputs, smoke_config):
    out, summary, killed, ray_home = on_ray
    assert list((ray_home / "inversions").glob("*.inversion.pt"))  # the workers' cache: in the test's folder
    assert [o.status for o in summary.outcomes] == ["done"] * 5 + ["failed"]
    assert len(killed) == 1
    pids = {int(o.worker.rsplit(":", 1)[1]) for o in summary.done}
    assert len(pids) == 3 and killed[0] in pids  # two actors, and the killed one restarted
    # The bad row is reported once, with edit's message, and not retried.
    assert summary.failed[0].error == report(reference[0])[BAD_ROW - 1]["error"]
    assert [line["status"] for line in report(out)] == ["done"] * 5 + ["failed"]
    assert_complete(out)
    again = run_batch(read_manifest(inputs / "edits.csv"), f"file://{out}", EditorSpec(smoke_config, smoke=True),
                      defaults=RowDefaults(seed=0), cluster="local")
    assert [o.status for o in again.outcomes] == ["skipped"] * 5 + ["failed"]


def test_the_same_manifest_gives_the_same_bytes_after_a_kill_on_two_workers_and_on_ray(reference, killed_and_rerun,
                                                                                    request):
    expected = digests(reference[0])
    assert digests(killed_and_rerun[0]) == expected
    if importlib.util.find_spec("ray") is not None:
        assert digests(request.getfixturevalue("on_ray")[0]) == expected
