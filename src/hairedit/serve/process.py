"""A ``hairedit serve`` in a process of its own, on a free loopback port: what
``hairedit bench --serve`` measures, and what the tests talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import hairedit

START_SECONDS = 300.0  # spawning workers that import torch (or starting Ray) on a loaded machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``hairedit serve --smoke --data-dir DATA_DIR OPTIONS`` with ``home`` as its hairedit home;
    its output goes to ``log``."""

    def __init__(self, home: Path, data_dir: Path, *options: str, log: Path | None = None):
        self.home, self.data_dir, self.options = Path(home), Path(data_dir), options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or self.home / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, *more: str) -> ServerProcess:
        """Start it and wait until /readyz says ready (workers up, networks loaded)."""
        argv = [sys.executable, "-m", "hairedit.cli", "serve", "--smoke", "--port", str(self.port), "--data-dir",
                str(self.data_dir), *self.options, *more]
        environment = {**os.environ, "HAIREDIT_HOME": str(self.home),
                       "PYTHONPATH": os.pathsep.join([str(Path(hairedit.__file__).parents[1]),
                                                      os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the server was not ready in {START_SECONDS:.0f} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL to the server alone, as a crash would; its workers die with it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL to its whole session if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
