"""A client for ``hairedit serve`` (docs/serve.md).

>>> from hairedit.client import Client
>>> with Client("http://127.0.0.1:8000", key=None) as client:  # doctest: +SKIP
...     result = client.edit("me.jpg", hairstyle="bob cut hairstyle", seed=1)
...     result.save("me_bob.jpg")

``edit`` returns what a server can send of an :class:`~hairedit.result.EditResult`: the
edited photo (encoded as ``EditResult.save`` encodes it), the edited crop, the timings and
the warnings. A refused request raises :class:`ServerError` (an InputError for what the
inputs make impossible) with the server's one-line message.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from .errors import HaireditError, InputError
from .progress import Progress

FILE_CONDITIONS = ("hairstyle_ref", "sketch", "mask", "color_ref")
FINISHED = ("done", "failed", "cancelled")
API_KEY_ENV = "HAIREDIT_API_KEY"


class ServerError(HaireditError):
    """The server refused a request or could not be reached; the message says why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RefusedInput(ServerError, InputError):
    """The server refused the inputs (4xx other than auth and limits), as ``edit`` would."""


@dataclass
class RemoteEditResult:
    """An edit made on a server: the fields of EditResult a server sends."""

    image: Image.Image
    crop_after: Image.Image
    timings: dict[str, float]
    warnings: list[str]
    job_id: str
    data: bytes = field(repr=False)  # the edited photo's file, as the server wrote it
    format: str = "png"  # its extension

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the edited photo as the server encoded it (like ``EditResult.save``);
        the extension must be the result's format."""
        from .atomic import write_atomically

        path = Path(path)
        if path.suffix.lower().lstrip(".").replace("jpeg", "jpg") != self.format:
            raise InputError(f"{path}: this result is a .{self.format} file; save it under that extension.")
        return write_atomically(path, lambda handle: handle.write(self.data), overwrite)


class Client:
    """Talks to one server with one key (None on a server started without keys)."""

    def __init__(self, url: str, key: str | None = None, timeout_s: float = 60.0):
        key = key if key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def submit(self, photo: str | os.PathLike | bytes, *, idempotency_key: str | None = None,
               **spec: Any) -> str:
        """Queue an edit; its id. ``spec``: edit's conditions (files as paths or bytes) and
        ``face``, ``seed``, ``preset``, ``config`` (a dict of settings, as ``--config``'s JSON)."""
        files = {"photo": _file(photo, "photo")}
        for name in FILE_CONDITIONS:
            if spec.get(name) is not None:
                files[name] = _file(spec.pop(name), name)
        spec = {name: list(value) if isinstance(value, tuple) else value for name, value in spec.items()
                if value is not None}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        reply = self._call("POST", "/v1/edits", files=files, data={"spec": json.dumps(spec)}, headers=headers)
        return reply.json()["id"]

    def status(self, job_id: str) -> dict:
        return self._call("GET", f"/v1/edits/{job_id}").json()

    def wait(self, job_id: str, progress: Callable[[Progress], None] | None = None) -> dict:
        """Follow the edit's events until it ends; its final status. ``progress`` gets each
        step, and the previews the server sends as (H, W, 3) uint8 arrays."""
        final, total = None, 1
        try:
            with self.http.stream("GET", f"/v1/edits/{job_id}/events",
                                  timeout=httpx.Timeout(None, connect=10)) as reply:
                _raise_for(reply, streamed=True)
                for kind, data in _events(reply.iter_lines()):
                    if kind == "step":
                        total = data["total"]
                    if progress is not None and kind in ("step", "preview"):
                        preview = _decoded(data["jpeg"]) if kind == "preview" else None
                        progress(Progress(data["stage"], data["step"], total, preview=preview))
                    if kind == "state" and data["state"] in FINISHED:
                        final = data  # the server ends the stream with it: read to the end, keep the connection
        except httpx.HTTPError as error:
            raise ServerError(f"{self.http.base_url}: the events of {job_id} stopped ({error}).") from None
        return final if final is not None and "id" in final else self.status(job_id)

    def result(self, job_id: str, format: str | None = None) -> bytes:  # noqa: A002 - the API's name
        """The edited photo's file (the upload's format, or ``format="png"``)."""
        return self._call("GET", f"/v1/edits/{job_id}/result", params={"format": format} if format else None).content

    def crop(self, job_id: str) -> bytes:
        """The edited aligned crop (PNG)."""
        return self._call("GET", f"/v1/edits/{job_id}/crop").content

    def cancel(self, job_id: str) -> dict:
        """Cancel a queued or running edit; delete a finished one's files."""
        return self._call("DELETE", f"/v1/edits/{job_id}").json()

    def edit(self, photo: str | os.PathLike | bytes, *, progress: Callable[[Progress], None] | None = None,
             format: str | None = None, **spec: Any) -> RemoteEditResult:  # noqa: A002 - the API's name
        """Submit, follow and fetch one edit. A failed edit raises InputError with its message."""
        job_id = self.submit(photo, **spec)
        status = self.wait(job_id, progress)
        if status["state"] != "done":
            raise InputError(status["error"] or f"the edit was {status['state']}.")
        data = self.result(job_id, format)
        return RemoteEditResult(
            image=Image.open(io.BytesIO(data)), crop_after=Image.open(io.BytesIO(self.crop(job_id))),
            timings=status["timings"], warnings=status["warnings"], job_id=job_id, data=data,
            format=format or status["format"],
        )

    def _call(self, method: str, path: str, **options) -> httpx.Response:
        try:
            reply = self.http.request(method, path, **options)
        except httpx.HTTPError as error:
            raise ServerError(f"{self.http.base_url}: {error or type(error).__name__}.") from None
        _raise_for(reply)
        return reply


def _file(value: str | os.PathLike | bytes, name: str) -> tuple[str, bytes]:
    if isinstance(value, bytes):
        return name, value
    path = Path(value)
    try:
        return path.name, path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror or error}).") from None


def _decoded(jpeg_base64: str):
    import base64

    import numpy as np

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(jpeg_base64))).convert("RGB"))


def _raise_for(reply: httpx.Response, streamed: bool = False) -> None:
    if reply.status_code < 400:
        return
    if streamed:
        reply.read()
    try:
        message = reply.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {reply.status_code}: {reply.text[:200]}"
    kind = RefusedInput if reply.status_code in (400, 409, 413, 415, 422) else ServerError
    raise kind(message, reply.status_code)


def _events(lines) -> Any:
    """(event, data) pairs of a server-sent event stream."""
    kind, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def edit_on_server(args, conditions: dict[str, Any], photo_format: str | None, settings: dict | None = None) -> int:
    """``hairedit edit --server URL``: the same edit, made by the server (with ``settings``,
    --config's JSON object, as the edit's own)."""
    import sys

    from .imageio import output_format
    from .progress import ProgressBars

    local = [option for option, given in (("--save-intermediates", args.save_intermediates is not None),
                                          ("--smoke", args.smoke),
                                          ("--device", args.device is not None),
                                          ("--weights-dir", args.weights_dir is not None)) if given]
    if local:
        raise InputError(f"{', '.join(local)}: set on the server (hairedit serve), not with --server.")
    wanted = output_format(args.output, photo_format)
    own = output_format(Path("photo"), photo_format)
    spec = {name: value for name, value in conditions.items() if value is not None}
    if settings is not None:
        spec["config"] = settings
    with Client(args.server) as client, ProgressBars() as bars:
        result = client.edit(args.photo, progress=bars, format=None if wanted == own else wanted.lower(),
                             face=args.face, seed=args.seed, preset=args.preset, **spec)
    from .atomic import write_atomically

    write_atomically(args.output, lambda handle: handle.write(result.data), args.overwrite)
    timings = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in result.timings.items())
    print(f"wrote {args.output} in {sum(result.timings.values()):.1f} s on {args.server} ({timings})")
    for warning in result.warnings:
        print(f"hairedit: warning: {warning}", file=sys.stderr)
    return 0
