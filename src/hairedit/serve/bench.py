"""``hairedit bench --serve``: what a request to ``hairedit serve`` costs beyond its edit.

A server with one worker and the smoke networks edits the sample portrait again and again;
for each request, the time from submitting it to holding the result (submit, follow its
events, read its status and its result) minus the edit's own seconds as the worker measured
them and the writing of its files (the ``writing`` stage of its timings: the result as
``hairedit edit`` writes it, and the crop). Machine-readable lines:

    serve_overhead_ms_p50=<ms>   the median
    serve_overhead_ms_p99=<ms>   the 99th percentile
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from .storage import WRITING

SPEC = {"rgb": "crimson", "seed": 0}


def run(args: argparse.Namespace) -> int:
    from skimage import data

    from ..client import Client
    from .process import ServerProcess

    requests = 10 if args.quick else 40
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, format="PNG")  # the sample portrait of `hairedit demo`
    with tempfile.TemporaryDirectory(prefix="hairedit-bench-serve-") as folder:
        print("hairedit bench --serve: starting a server (smoke networks, one worker)", flush=True)
        with ServerProcess(Path(folder), Path(folder) / "data", "--workers", "1") as server, \
                Client(server.url) as client:
            client.edit(photo.getvalue(), **SPEC)  # warm-up: the first edit's one-off costs
            overheads_ms = [overhead_ms(client, photo.getvalue()) for _ in range(requests)]
    print("\n".join(report_lines(overheads_ms)))
    return 0


def report_lines(overheads_ms: list[float]) -> list[str]:
    p50 = statistics.median(overheads_ms)
    p99 = statistics.quantiles(overheads_ms, n=100, method="inclusive")[98]
    return [f"  {len(overheads_ms)} requests; overhead beyond the edit: min {min(overheads_ms):.1f} ms, max "
            f"{max(overheads_ms):.1f} ms", f"serve_overhead_ms_p50={p50:.1f}", f"serve_overhead_ms_p99={p99:.1f}"]


def overhead_ms(client, photo: bytes) -> float:
    """One request's time beyond its edit and the writing of its files, in milliseconds."""
    start = time.perf_counter()
    job = client.submit(photo, **SPEC)
    status = client.wait(job)
    client.result(job)
    seconds = time.perf_counter() - start
    if status["state"] != "done":
        raise RuntimeError(f"a bench edit ended {status['state']}: {status['error']}")
    return (seconds - status["edit_seconds"] - status["timings"][WRITING]) * 1000
