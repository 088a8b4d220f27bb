"""The queue's promise: a server killed with SIGKILL while one edit runs and others wait loses
nothing. Restarted on the same data folder (on a local Ray instance it starts itself, through
the actors of `hairedit batch --ray`, when Ray is installed), it runs every job once more
where needed and never twice where done, each result the bytes `hairedit edit` writes. There a
running edit cancelled stops on its actor, which takes the next job."""

import importlib.util
import json
import sqlite3
import time

import httpx
import psutil

from hairedit.client import Client
from tests.serving import ENDLESS, Server, edit_bytes, portrait, submit, wait_for

SPEC = {"rgb": "crimson", "seed": 5}
JOBS = 3


def states(data_dir) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(data_dir / "jobs.sqlite3") as db:
        return {job: (state, attempts) for job, state, attempts in db.execute("SELECT id, state, attempts FROM jobs")}


def test_a_server_killed_mid_edit_then_restarted_on_ray_finishes_every_job_once(tmp_path):
    photo = portrait(tmp_path)
    expected = edit_bytes(photo, SPEC, tmp_path / "expected.png", tmp_path / "edit_home")
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, home / "data", "--workers", "1").start()
    try:
        files = {"photo": ("me.png", photo.read_bytes()), "spec": (None, json.dumps(SPEC))}
        ids = [httpx.post(f"{server.url}/v1/edits", files=files).json()["id"] for _ in range(JOBS)]
        deadline = time.monotonic() + 120
        while httpx.get(f"{server.url}/v1/edits/{ids[0]}").json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        server.kill()
    finally:
        server.stop()
    at_kill = states(server.data_dir)
    assert [at_kill[job][0] for job in ids[1:]] == ["queued"] * (JOBS - 1)
    assert at_kill[ids[0]][0] in ("running", "done")
    on_ray = ["--ray", "local"] if importlib.util.find_spec("ray") is not None else []
    server.start(*on_ray)
    try:
        with Client(server.url) as client:
            finals = [client.wait(job) for job in ids]
            results = [client.result(job) for job in ids]
        workers = {job: worker_process(server.data_dir, job) for job in ids[1:]}
        cancelled, after_it = _cancel_a_running_edit(server, photo)
    finally:
        server.stop()
    assert [final["state"] for final in finals] == ["done"] * JOBS, [final["error"] for final in finals]
    assert all(result == expected for result in results)
    after = states(server.data_dir)
    assert [after[job][1] for job in ids[1:]] == [1] * (JOBS - 1)  # each waiting job ran once
    assert after[ids[0]][1] == (2 if at_kill[ids[0]][0] == "running" else 1)  # the killed one ran again
    leftovers = [path for path in (server.data_dir / "results").rglob("*") if path.name.endswith(".part")]
    assert leftovers == [] and sorted(p.name for p in (server.data_dir / "results").iterdir() if p.name in ids) == \
        sorted(ids)
    for job, process in workers.items():  # the jobs run after the restart: on a Ray actor, or a worker process
        assert ("ray::" in process) == bool(on_ray), (job, process)
    assert cancelled["state"] == "cancelled" and cancelled["edit_seconds"] is None
    assert after_it["state"] == "done", after_it["error"]
    assert not (server.data_dir / "results" / cancelled["id"]).exists()


def _cancel_a_running_edit(server, photo) -> tuple[dict, dict]:
    """An edit that would run for hours, cancelled once it runs, and the job queued behind it
    (which its worker takes only once the edit stopped): both as they end."""
    endless = submit(server, photo, {"rgb": "teal", "config": ENDLESS}).json()
    wait_for(server, endless["id"], ("running",))
    behind = submit(server, photo, SPEC).json()
    assert httpx.delete(f"{server.url}/v1/edits/{endless['id']}").json()["state"] == "cancelled"
    after_it = wait_for(server, behind["id"], ("done", "failed"))
    return httpx.get(f"{server.url}/v1/edits/{endless['id']}").json(), after_it


def worker_process(data_dir, job: str) -> str:
    """The command line of the process that edited ``job`` (still running: the server is)."""
    with sqlite3.connect(data_dir / "jobs.sqlite3") as db:
        worker = db.execute("SELECT worker FROM jobs WHERE id=?", (job,)).fetchone()[0]
    return " ".join(psutil.Process(int(worker.rsplit(":", 1)[1])).cmdline())
