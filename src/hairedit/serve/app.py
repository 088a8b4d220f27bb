"""The FastAPI application of ``hairedit serve`` (docs/serve.md). Every error is JSON,
``{"error": "<the one-line message edit prints>"}``; heavy work (checking images, the
database) runs in threads, edits in the workers, nothing slow in the event loop."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ..errors import InputError
from .auth import Keys, RateLimit
from .intake import Upload, check_uploads, read_spec, stage_job
from .jobs import FINISHED, Job, JobStore, QueueFull, StorageError, new_job_id
from .metrics import Metrics
from .settings import ServeSettings
from .storage import CROP, LOSSLESS
from .workers import EventLog, Scheduler

MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tif": "image/tiff", "bmp": "image/bmp"}
QUEUE_RETRY_SECONDS = 10  # Retry-After when a queue is full
EVENT_KEEPALIVE_SECONDS = 15.0
IDEMPOTENCY_KEY_CHARS = 255
IN_ONE_READ_BYTES = 16 * 2 ** 20  # results up to this size are sent from memory, larger ones streamed


class ApiError(HTTPException):
    def __init__(self, status: int, message: str, retry_after: float | None = None):
        headers = None if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}
        super().__init__(status, message, headers)


def create_app(settings: ServeSettings) -> FastAPI:
    """The application over ``settings.data_dir``; refuses (InputError) a folder it cannot use."""
    store = JobStore(settings.data_dir, settings.power_safe)
    keys = Keys(settings.keys_file)
    rate = RateLimit(settings.submissions_per_minute)
    events = EventLog()
    metrics = Metrics(store)
    scheduler = Scheduler(store, settings, events, metrics.observe)
    listeners: dict[str, set[asyncio.Event]] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loop = asyncio.get_running_loop()

        def wake(job_id: str) -> None:
            for listener in listeners.get(job_id, ()):
                listener.set()

        events.on_append = lambda job_id: loop.call_soon_threadsafe(wake, job_id)
        store.recover()
        scheduler.start()
        yield
        await run_in_threadpool(scheduler.stop)
        store.close()

    app = FastAPI(title="hairedit", version="1", lifespan=lifespan,
                  description="Hair editing for programs: submit an edit, follow it, fetch the result (docs/serve.md).")
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type"])
    _add_error_handlers(app)

    async def owner_of(request: Request) -> str:  # async: a stat and a hash, no thread needed
        presented = request.headers.get("X-API-Key")
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        owner = keys.owner(presented)
        if owner is None:
            error = ApiError(401, "an API key is required: send 'Authorization: Bearer KEY'." if not presented
                             else "the API key is not valid.")
            error.headers = {"WWW-Authenticate": "Bearer"}
            raise error
        return owner

    def known_job(job_id: str, owner: str) -> Job:
        job = store.get(job_id, owner)
        if job is None:
            raise ApiError(404, f"no edit {job_id}.")  # another key's job is no more visible than a missing one
        return job

    async def job_of(job_id: str, owner: str = Depends(owner_of)) -> Job:
        return await run_in_threadpool(known_job, job_id, owner)

    def view(job: Job) -> dict:
        return job.view(scheduler.live.get(job.id))

    def enqueue(owner: str, idempotency_key: str | None, uploads: list[Upload], spec: dict) -> tuple[Job, bool]:
        """(the job made before with ``idempotency_key``, False), else (a new job, True) once the
        key's rate, the key's bound and the queue's allow one, its files stored and checked. All
        in one thread: each hand-over between the event loop and a thread costs a wake-up, which
        is milliseconds on a loaded machine."""
        known = store.by_idempotency_key(owner, idempotency_key)
        if known is not None:
            return known, False
        wait = rate.take(owner) if settings.auth else 0.0
        if wait:
            raise ApiError(429, f"too many submissions: {settings.submissions_per_minute} a minute per key.", wait)
        if store.pending_of(owner) >= settings.max_queued_per_key:
            raise ApiError(429, f"this key has {settings.max_queued_per_key} edits queued or running, its bound; "
                                "wait for some to finish.", QUEUE_RETRY_SECONDS)
        job_id = new_job_id()
        try:
            task = stage_job(store.job_folder(job_id), check_uploads(uploads), spec, settings.editor, job_id,
                             settings.power_safe)
            return store.add(job_id, owner, idempotency_key, task.row, task.key, task.group, settings.max_queue), True
        except StorageError as error:
            raise ApiError(507, str(error), QUEUE_RETRY_SECONDS) from None
        except QueueFull as error:  # the bound, checked as the job is committed
            raise ApiError(503, str(error), QUEUE_RETRY_SECONDS) from None

    @app.post("/v1/edits", status_code=202)
    async def submit(request: Request, owner: str = Depends(owner_of)):
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_CHARS:
            raise ApiError(400, f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS} characters.")
        uploads, spec = await _read_form(request, settings.max_upload_bytes)
        job, new = await run_in_threadpool(enqueue, owner, idempotency_key, uploads, spec)
        if not new:
            return JSONResponse(view(job), 202)
        scheduler.notify()
        return JSONResponse(view(job), 202, headers={"Location": f"/v1/edits/{job.id}"})

    @app.get("/v1/edits/{job_id}")
    async def status(job: Job = Depends(job_of)):
        return view(job)

    def result_file(job_id: str, owner: str, format: str | None) -> Response:  # noqa: A002 - the query's name
        job = known_job(job_id, owner)
        own = job.format
        wanted = {"jpeg": "jpg", "tiff": "tif"}.get((format or own).lower(), (format or own).lower())
        if wanted not in (own, "png"):
            raise ApiError(400, f"format={format}: this edit is kept as {own} and png; ask for one of those.")
        name = job.row.output if wanted == own else f"{job.id}/{LOSSLESS}"
        return _finished_file(store, job, name, MEDIA_TYPES[wanted])

    @app.get("/v1/edits/{job_id}/result")
    async def result(job_id: str, owner: str = Depends(owner_of), format: str | None = None):  # noqa: A002
        return await run_in_threadpool(result_file, job_id, owner, format)  # the job and its file: one thread

    @app.get("/v1/edits/{job_id}/crop")
    async def crop(job_id: str, owner: str = Depends(owner_of)):
        return await run_in_threadpool(lambda: _finished_file(store, known_job(job_id, owner), f"{job_id}/{CROP}",
                                                              "image/png"))

    @app.get("/v1/edits/{job_id}/events")
    async def job_events(job: Job = Depends(job_of)):
        async def stream():
            listener = asyncio.Event()
            listeners.setdefault(job.id, set()).add(listener)
            try:
                current = job  # read a moment ago: what changed since is in the event log, sent next
                yield _event("state", {"state": current.state, "position": current.position})
                sent = 0
                while current.state not in FINISHED:
                    listener.clear()
                    new, sent = events.since(job.id, sent)
                    for kind, data in new:
                        yield _event(kind, data)
                    if any(kind == "state" and data["state"] in FINISHED for kind, data in new):
                        return
                    try:
                        await asyncio.wait_for(listener.wait(), EVENT_KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        yield ": still there\n\n"
                        current = await run_in_threadpool(store.get, job.id)
            finally:
                listeners[job.id].discard(listener)
                if not listeners[job.id]:
                    del listeners[job.id]

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.delete("/v1/edits/{job_id}")
    async def cancel(job: Job = Depends(job_of)):
        if await run_in_threadpool(store.cancel, job.id):
            scheduler.stop_job(job.id)
            events.append(job.id, "state", {"state": "cancelled", "error": None}, final=True)
            return {"id": job.id, "state": "cancelled"}
        await run_in_threadpool(store.delete, job.id)
        return {"id": job.id, "state": "deleted"}

    @app.get("/healthz")
    async def healthz():
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz():
        counts = await run_in_threadpool(store.counts)
        problems = [problem for problem, bad in (
            (scheduler.error or "the workers are loading their networks", not scheduler.ready),
            (f"the queue is full ({settings.max_queue} edits)", counts["queued"] >= settings.max_queue),
        ) if bad]
        body = {"ready": not problems, "problems": problems, "queued": counts["queued"], "running": counts["running"]}
        return JSONResponse(body, 503 if problems else 200)

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(await run_in_threadpool(metrics.text),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _finished_file(store: JobStore, job: Job, name: str, media_type: str) -> Response:
    if job.state != "done":
        detail = f": {job.error}" if job.error else ""
        raise ApiError(409, f"the edit is {job.state}{detail}; its result exists once it is done.")
    path = store.results_dir / name
    try:
        status = path.stat()
        if status.st_size > IN_ONE_READ_BYTES:
            return FileResponse(path, media_type=media_type, stat_result=status)
        return Response(path.read_bytes(), media_type=media_type)  # one read: not a thread per 64 KB chunk
    except OSError:
        raise ApiError(410, "the edit's files were removed.") from None


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


async def _read_form(request: Request, max_bytes: int) -> tuple[list[Upload], dict]:
    """The uploads and the spec; the body refused beyond ``max_bytes`` before any of it is kept."""
    too_large = f"the upload is larger than the server's limit of {max_bytes / 2 ** 20:g} MB (--max-upload-mb)."
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, too_large)
    if not request.headers.get("Content-Type", "").startswith("multipart/form-data"):
        raise ApiError(415, "send multipart/form-data: the file 'photo' (and reference, sketch, mask files) and "
                            "the field 'spec' (JSON).")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, too_large)
    request._body = bytes(body)  # parsed from memory: the size is known before any part is written down
    try:
        form = await request.form(max_files=10, max_fields=10, max_part_size=max_bytes)
    except Exception as error:  # noqa: BLE001 - the multipart parser's own errors
        raise ApiError(400, f"the request is not readable multipart/form-data ({error}).") from None
    uploads, spec = [], None
    for field, value in form.multi_items():
        if isinstance(value, UploadFile):
            uploads.append(Upload(field, value.filename or "", await value.read()))
        elif field == "spec":
            spec = value
        else:
            raise InputError(f"unknown form field {field!r}; send the files and 'spec' (JSON).")
    return uploads, read_spec(spec)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return JSONResponse({"error": error.detail}, error.status_code, headers=error.headers)

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError):
        return JSONResponse({"error": str(error)}, 422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}."}, 422)
