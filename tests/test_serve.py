"""`hairedit serve` as an app calls it: one real server process on a loopback port (smoke
networks, two workers), real HTTP. Every endpoint; every bad input refused in JSON with
nothing stored; edits from 8 concurrent clients, each the bytes `hairedit edit` writes;
cancelling; the Python client and `hairedit edit --server`."""

import base64
import io
import json
import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from hairedit.cli import main
from hairedit.client import Client
from hairedit.conditions import check_conditions
from hairedit.errors import InputError
from hairedit.serve.bench import overhead_ms, report_lines
from tests.serving import Server, edit_bytes, portrait, wait_for

SPECS = [  # (photo, spec): PNG and JPEG uploads, text, colours
    ("png", {"hairstyle": "bob cut hairstyle", "seed": 1}),
    ("png", {"rgb": "crimson"}),
    ("jpg", {"color": "purple hair", "seed": 2}),
    ("jpg", {"rgb": [40, 40, 200], "seed": 3}),
]
# One a client keeps this file's minutes down on a shared two-core machine, where an edit's
# 1024 px alignment alone takes a second; HAIREDIT_TEST_SERVE_EDITS=5 runs the 40 of issue 20.
EDITS_PER_CLIENT = int(os.environ.get("HAIREDIT_TEST_SERVE_EDITS", "1"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    png = portrait(folder)
    Image.open(png).save(folder / "portrait.jpg", quality=90)
    return {"png": png, "jpg": folder / "portrait.jpg"}


@pytest.fixture(scope="module")
def expected(photos, tmp_path_factory):
    """`hairedit edit --smoke`'s bytes for each of SPECS."""
    folder, home = tmp_path_factory.mktemp("expected"), tmp_path_factory.mktemp("edit_home")
    return [edit_bytes(photos[kind], spec, folder / f"{index}.{kind}", home)
            for index, (kind, spec) in enumerate(SPECS)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve_home")
    running = Server(home, home / "data", "--workers", "2", "--max-upload-mb", "1").start()
    yield running
    running.stop()


def stored_jobs(server) -> set[str]:
    return {path.name for path in (server.data_dir / "jobs").iterdir()}


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (and holds none)."""
    def chunk(kind: bytes, content: bytes) -> bytes:
        return struct.pack(">I", len(content)) + kind + content + struct.pack(">I", zlib.crc32(kind + content))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def edit_message(**conditions) -> str:
    with pytest.raises(InputError) as error:
        check_conditions(**conditions)
    return str(error.value)


def test_every_bad_input_is_refused_in_json_and_nothing_is_stored(server, photos, tmp_path):
    photo = photos["png"].read_bytes()
    Image.new("L", (100, 60)).save(tmp_path / "mask.png")
    bob = json.dumps({"hairstyle": "bob"})
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")  # about 1.9 MB: over the server's 1 MB
    cases = {
        "no photo": ({"spec": (None, bob)}, 422, "no photo"),
        "a text file as photo": ({"photo": ("notes.txt", b"hello"), "spec": (None, bob)}, 422,
                                 "photo (notes.txt) is not a readable image"),
        "a huge header": ({"photo": ("huge.png", png_header_only(13000, 12000)), "spec": (None, bob)}, 422,
                          "photo (huge.png) is too large: 13000x12000 pixels"),
        "bad spec JSON": ({"photo": ("p.png", photo), "spec": (None, "{hairstyle")}, 422, "spec is not valid JSON"),
        "an unknown field": ({"photo": ("p.png", photo), "spec": (None, '{"colour": "red"}')}, 422,
                             "spec: unknown field 'colour'"),
        "an unknown colour": ({"photo": ("p.png", photo), "spec": (None, '{"rgb": "blurple"}')}, 422,
                              edit_message(rgb="blurple")),
        "a mask of the wrong size": ({"photo": ("p.png", photo), "mask": ("m.png", (tmp_path / "mask.png").read_bytes()),
                                      "spec": (None, bob)}, 422, "mask (m.png)"),
        "nothing to do": ({"photo": ("p.png", photo)}, 422, edit_message()),
        "an unknown file": ({"photo": ("p.png", photo), "selfie": ("s.png", photo), "spec": (None, bob)}, 422,
                            "unknown file field 'selfie'"),
        "an upload over the bound": ({"photo": ("big.png", (tmp_path / "noise.png").read_bytes()),
                                      "spec": (None, bob)}, 413, "larger than the server's limit of 1 MB"),
    }
    before = stored_jobs(server)
    for case, (files, status, message) in cases.items():
        reply = httpx.post(f"{server.url}/v1/edits", files=files, timeout=60)
        assert reply.status_code == status, (case, reply.text)
        assert reply.headers["content-type"] == "application/json", case
        error = reply.json()["error"]
        assert message in error and "\n" not in error, (case, error)
        assert str(server.data_dir) not in error, (case, error)  # the server's folders stay its own
    not_multipart = httpx.post(f"{server.url}/v1/edits", json={"hairstyle": "bob"})
    assert not_multipart.status_code == 415 and "multipart/form-data" in not_multipart.json()["error"]
    assert httpx.get(f"{server.url}/v1/edits/nosuchjob").json() == {"error": "no edit nosuchjob."}
    assert stored_jobs(server) == before
    assert 'hairedit_jobs{state="queued"} 0.0' in httpx.get(f"{server.url}/metrics").text


def test_an_edit_followed_through_every_endpoint(server, photos, expected):
    kind, spec = SPECS[2]
    files = {"photo": (f"me.{kind}", photos[kind].read_bytes()), "spec": (None, json.dumps(spec))}
    first = httpx.post(f"{server.url}/v1/edits", files=files, headers={"Idempotency-Key": "order-17"})
    again = httpx.post(f"{server.url}/v1/edits", files=files, headers={"Idempotency-Key": "order-17"})
    assert first.status_code == again.status_code == 202
    job = first.json()
    assert again.json()["id"] == job["id"] and job["state"] in ("queued", "running")
    assert first.headers["location"] == job["urls"]["status"] == f"/v1/edits/{job['id']}"
    with httpx.stream("GET", server.url + job["urls"]["events"], timeout=120) as stream:
        lines = [line for line in stream.iter_lines()]
    kinds = [line[7:] for line in lines if line.startswith("event: ")]
    assert kinds[0] == "state" and kinds[-1] == "state" and json.loads(lines[-2][6:])["state"] == "done"
    assert {"stage_start", "step", "stage_end", "preview"} <= set(kinds)
    preview = json.loads(lines[lines.index("event: preview") + 1][6:])
    assert max(Image.open(io.BytesIO(base64.b64decode(preview["jpeg"]))).size) <= 128
    started = [json.loads(line[6:])["stage"] for line, previous in zip(lines[1:], lines) if previous ==
               "event: stage_start"]
    assert started[0] == "align" and started[-1] == "whole photo"
    status = httpx.get(server.url + job["urls"]["status"]).json()
    assert status["state"] == "done" and status["error"] is None and status["position"] is None
    assert set(status["timings"]) >= {"align", "inversion", "paste back"} and status["edit_seconds"] > 0
    result = httpx.get(server.url + job["urls"]["result"])
    assert result.headers["content-type"] == "image/jpeg" and result.content == expected[2]
    lossless = httpx.get(server.url + job["urls"]["result"], params={"format": "png"})
    assert lossless.headers["content-type"] == "image/png" and Image.open(_bytes(lossless)).size == (230, 230)
    assert httpx.get(server.url + job["urls"]["result"], params={"format": "webp"}).status_code == 400
    crop = Image.open(_bytes(httpx.get(server.url + job["urls"]["crop"])))
    assert crop.format == "PNG" and crop.size[0] == crop.size[1]
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'hairedit_stage_seconds_count{stage="colour proxy"}' in metrics and "hairedit_failures_total" in metrics
    alive = httpx.get(f"{server.url}/healthz", headers={"Origin": "https://salon.example"})
    assert alive.json() == {"status": "alive"} and "access-control-allow-origin" not in alive.headers  # CORS off
    assert httpx.get(f"{server.url}/readyz").json()["ready"] is True
    assert "/v1/edits/{job_id}/events" in httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200
    assert httpx.delete(server.url + job["urls"]["status"]).json() == {"id": job["id"], "state": "deleted"}
    assert httpx.get(server.url + job["urls"]["status"]).status_code == 404
    assert job["id"] not in stored_jobs(server) and not (server.data_dir / "results" / job["id"]).exists()


def test_edits_from_8_concurrent_clients_all_finish_with_the_bytes_edit_writes(server, photos, expected):
    steps = []

    def one_client(number: int) -> list[tuple[int, bytes, dict]]:
        done = []
        with Client(server.url) as client:
            for job in range(EDITS_PER_CLIENT):
                index = (number + job) % len(SPECS)
                kind, spec = SPECS[index]
                result = client.edit(photos[kind], progress=steps.append, **spec)
                done.append((index, result.data, result.timings))
        return done

    with ThreadPoolExecutor(8) as clients:
        results = [item for done in clients.map(one_client, range(8)) for item in done]
    assert len(results) == 8 * EDITS_PER_CLIENT
    for index, data, timings in results:
        assert data == expected[index], SPECS[index]
        assert "align" in timings
    assert steps and {step.stage for step in steps} >= {"align", "inversion (W+)", "paste back"}
    previews = [step.preview for step in steps if step.preview is not None]
    assert previews and all(preview.ndim == 3 and preview.dtype == np.uint8 for preview in previews)


def test_cancelling_a_queued_and_a_running_edit(server, photos):
    files = {"photo": ("p.png", photos["png"].read_bytes()), "spec": (None, '{"rgb": "teal"}')}
    jobs = [httpx.post(f"{server.url}/v1/edits", files=files).json() for _ in range(3)]  # two workers
    running = wait_for(server, jobs[0]["id"], ("running", "done"))["state"]
    queued = httpx.get(server.url + jobs[2]["urls"]["status"]).json()
    assert queued["state"] == "queued" and queued["position"] == 0
    assert httpx.delete(server.url + jobs[2]["urls"]["status"]).json()["state"] == "cancelled"
    if running == "running":
        assert httpx.delete(server.url + jobs[0]["urls"]["status"]).json()["state"] == "cancelled"
    assert wait_for(server, jobs[1]["id"], ("done",))["state"] == "done"
    assert wait_for(server, jobs[2]["id"], ("cancelled",))["state"] == "cancelled"
    refused = httpx.get(server.url + jobs[2]["urls"]["result"])
    assert refused.status_code == 409 and "cancelled" in refused.json()["error"]
    if running == "running":  # once its worker is done with it, its files go and it stays cancelled
        deadline = time.monotonic() + 120
        while (server.data_dir / "jobs" / jobs[0]["id"]).exists():
            assert time.monotonic() < deadline, "the cancelled edit's files stayed"
            time.sleep(0.05)
        assert httpx.get(server.url + jobs[0]["urls"]["status"]).json()["state"] == "cancelled"
        assert not (server.data_dir / "results" / jobs[0]["id"]).exists()


def test_edit_on_a_server_writes_what_edit_writes(server, photos, expected, tmp_path, capsys):
    kind, spec = SPECS[0]
    assert main(["edit", str(photos[kind]), "-o", str(tmp_path / "bob.png"), "--server", server.url,
                 "--hairstyle", spec["hairstyle"], "--seed", str(spec["seed"])]) == 0
    assert (tmp_path / "bob.png").read_bytes() == expected[0]
    assert f"on {server.url}" in capsys.readouterr().out
    assert main(["edit", str(photos["png"]), "-o", str(tmp_path / "x.png"), "--server", server.url, "--face", "7",
                 "--rgb", "red"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hairedit: error: ") and "Got 7" in error and error.count("\n") == 1


def test_the_serve_bench_measures_each_request_beyond_its_edit(server, photos):
    with Client(server.url) as client:
        overheads = [overhead_ms(client, photos["png"].read_bytes()) for _ in range(2)]
    assert all(0 < overhead < float("inf") for overhead in overheads)  # what the server adds is never free
    lines = report_lines(overheads)
    assert lines[1].startswith("serve_overhead_ms_p50=") and lines[2].startswith("serve_overhead_ms_p99=")
    p50, p99 = (float(line.split("=")[1]) for line in lines[1:])
    assert min(overheads) - 0.05 <= p50 <= p99 <= max(overheads) + 0.05


def _bytes(reply):
    return io.BytesIO(reply.content)

