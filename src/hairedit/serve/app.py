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

    def owner_of(request: Request) -> str:
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

    async def job_of(job_id: str, owner: str = Depends(owner_of)) -> Job:
        job = await run_in_threadpool(store.get, job_id, owner)
        if job is None:
            raise ApiError(404, f"no edit {job_id}.")  # another key's job is no more visible than a missing one
        return job

    def view(job: Job) -> dict:
        return job.view(scheduler.live.get(job.id))

    @app.post("/v1/edits", status_code=202)
    async def submit(request: Request, owner: str = Depends(owner_of)):
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_CHARS:
            raise ApiError(400, f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS} characters.")
        known = await run_in_threadpool(store.by_idempotency_key, owner, idempotency_key)
        if known is not None:
            return JSONResponse(view(known), 202)
        wait = rate.take(owner) if settings.auth else 0.0
        if wait:
            raise ApiError(429, f"too many submissions: {settings.submissions_per_minute} a minute per key.", wait)
        if await run_in_threadpool(store.pending_of, owner) >= settings.max_queued_per_key:
            raise ApiError(429, f"this key has {settings.max_queued_per_key} edits queued or running, its bound; "
                                "wait for some to finish.", QUEUE_RETRY_SECONDS)
        if (await run_in_threadpool(store.counts))["queued"] >= settings.max_queue:  # before reading the upload
            raise ApiError(503, str(QueueFull(settings.max_queue)), QUEUE_RETRY_SECONDS)
        uploads, spec = await _read_form(request, settings.max_upload_bytes)
        job_id = new_job_id()
        try:
            task = await run_in_threadpool(stage_job, store.job_folder(job_id), check_uploads(uploads), spec,
                                           settings.editor, job_id, settings.power_safe)
            job = await run_in_threadpool(store.add, job_id, owner, idempotency_key, task.row, task.key, task.group,
                                          settings.max_queue)
        except StorageError as error:
            raise ApiError(507, str(error), QUEUE_RETRY_SECONDS) from None
        except QueueFull as error:  # filled while this upload was read and checked
            raise ApiError(503, str(error), QUEUE_RETRY_SECONDS) from None
        scheduler.notify()
        return JSONResponse(view(job), 202, headers={"Location": f"/v1/edits/{job.id}"})

    @app.get("/v1/edits/{job_id}")
    async def status(job: Job = Depends(job_of)):
        return view(job)

    @app.get("/v1/edits/{job_id}/result")
    async def result(job: Job = Depends(job_of), format: str | None = None):  # noqa: A002 - the query's name
        own = job.format
        wanted = {"jpeg": "jpg", "tiff": "tif"}.get((format or own).lower(), (format or own).lower())
        if wanted not in (own, "png"):
            raise ApiError(400, f"format={format}: this edit is kept as {own} and png; ask for one of those.")
        name = job.row.output if wanted == own else f"{job.id}/{LOSSLESS}"
        return _finished_file(store, job, name, MEDIA_TYPES[wanted])

    @app.get("/v1/edits/{job_id}/crop")
    async def crop(job: Job = Depends(job_of)):
        return _finished_file(store, job, f"{job.id}/{CROP}", "image/png")

    @app.get("/v1/edits/{job_id}/events")
    async def job_events(job: Job = Depends(job_of)):
        async def stream():
            listener = asyncio.Event()
            listeners.setdefault(job.id, set()).add(listener)
            try:
                current = await run_in_threadpool(store.get, job.id)
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
    if not path.is_file():
        raise ApiError(410, "the edit's files were removed.")
    return FileResponse(path, media_type=media_type)


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
