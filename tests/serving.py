"""`hairedit serve` processes for the tests: real servers on free loopback ports, each with its
own hairedit home and data folder, driven over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch
from PIL import Image
from skimage import data

import hairedit
from hairedit.cli import main

SOURCE = str(Path(hairedit.__file__).parents[1])
START_SECONDS = 180  # a loaded machine: spawning workers that import torch, Ray starting


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def portrait(folder: Path) -> Path:
    """The astronaut's head and shoulders, small: quick to align, big enough a face."""
    path = folder / "portrait.png"
    Image.fromarray(data.astronaut()[20:250, 120:350]).save(path)
    return path


class Server:
    """``hairedit serve --smoke`` in a process of its own."""

    def __init__(self, home: Path, data_dir: Path, *options: str):
        self.home, self.data_dir, self.options = home, data_dir, options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "hairedit.cli", "serve", "--smoke", "--port", str(self.port), "--data-dir",
                str(self.data_dir), *self.options]

    def start(self, *more: str) -> Server:
        environment = {**os.environ, "HAIREDIT_HOME": str(self.home), "PYTHONPATH": SOURCE}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([*self.argv(), *more], env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server did not become ready:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL to the server alone, as a crash: its workers die with it (PDEATHSIG)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def edit_bytes(photo: Path, spec: dict, out: Path, home: Path) -> bytes:
    """What `hairedit edit --smoke` writes for ``spec``, with one torch thread as the server's
    workers use."""
    argv = ["edit", str(photo), "-o", str(out), "--smoke"]
    for name, value in spec.items():
        value = ",".join(map(str, value)) if isinstance(value, list) else str(value)
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
