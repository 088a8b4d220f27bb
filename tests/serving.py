"""`hairedit serve` for the tests: real server processes (``hairedit.serve.process``) on free
loopback ports, each with its own hairedit home and data folder; the bytes `hairedit edit`
writes for the same edit."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import torch
from PIL import Image
from skimage import data

from hairedit.cli import main
from hairedit.serve.process import ServerProcess as Server

__all__ = ["ENDLESS", "Server", "edit_bytes", "portrait", "submit", "wait_for"]

# Hours of inversion steps on the smoke networks: only a stop ends it soon.
ENDLESS = {"step_cap": 10 ** 7, "inversion": {"w_steps": 10 ** 7}}


def portrait(folder: Path) -> Path:
    """The astronaut's head and shoulders, small: quick to align, big enough a face."""
    path = folder / "portrait.png"
    Image.fromarray(data.astronaut()[20:250, 120:350]).save(path)
    return path


def edit_bytes(photo: Path, spec: dict, out: Path, home: Path) -> bytes:
    """What `hairedit edit --smoke` writes for ``spec``, with one torch thread as the server's
    workers use."""
    argv = ["edit", str(photo), "-o", str(out), "--smoke"]
    for name, value in spec.items():
        value = json.dumps(value) if isinstance(value, dict) else ",".join(map(str, value)) if isinstance(
            value, list) else str(value)
        argv += [f"--{name.replace('_', '-')}", value]
    threads = torch.get_num_threads()
    previous = os.environ.get("HAIREDIT_HOME")
    os.environ["HAIREDIT_HOME"] = str(home)
    torch.set_num_threads(1)
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
        if previous is not None:
            os.environ["HAIREDIT_HOME"] = previous
    return out.read_bytes()


def submit(server: Server, photo: Path, spec: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/edits", files={"photo": ("me.png", photo.read_bytes()),
                                                       "spec": (None, json.dumps(spec))}, timeout=60)


def wait_for(server: Server, job_id: str, states: tuple[str, ...]) -> dict:
    """The job once it is in one of ``states``; AssertionError when it never gets there."""
    deadline = time.monotonic() + 300  # a liveness bound on a loaded machine, not a speed check
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/v1/edits/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{job_id} never reached {states}")
