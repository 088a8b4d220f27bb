"""A submission read and checked before it is queued: the files of a multipart request and its
``spec`` (a JSON object with the batch manifest's columns, and ``config``: settings of the
edit's own, read as ``hairedit edit --config`` reads them).

Files are written into the job's own folder and checked there as ``hairedit edit`` checks
its inputs (the photo's header and pixel count, every condition); whatever is refused leaves
nothing behind. Messages name the uploaded field and file name, never the server's folders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batch.editor import EditorSpec
from ..batch.keys import RowDefaults, RowTask, plan_rows
from ..batch.manifest import PATH_CONDITIONS, ROW_OPTIONS, TEXT_CONDITIONS, BatchRow, normalise_row
from ..conditions import check_conditions
from ..errors import InputError, MissingWeightsError
from ..imageio import check_pixel_count, open_header, output_format
from .jobs import StorageError
from .storage import result_name

FILE_FIELDS = ("photo", *PATH_CONDITIONS)
SPEC_FIELDS = (*TEXT_CONDITIONS, "rgb", *ROW_OPTIONS, "config")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp"}


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str
    data: bytes


def read_spec(text: str | None) -> dict[str, Any]:
    """The ``spec`` form field: a JSON object with known fields only."""
    if text is None or not text.strip():
        return {}
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"spec is not valid JSON ({error.msg}, column {error.colno}).") from None
    if not isinstance(spec, dict):
        raise InputError('spec must be a JSON object, e.g. {"hairstyle": "bob cut hairstyle", "seed": 1}.')
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        files = [name for name in unknown if name in FILE_FIELDS]
        hint = f" ({', '.join(files)}: send as files)" if files else ""
        raise InputError(f"spec: unknown field {unknown[0]!r}{hint}; known: {', '.join(SPEC_FIELDS)}.")
    if spec.get("config") is not None and not isinstance(spec["config"], dict):
        raise InputError('spec: config must be a JSON object of settings, e.g. {"text": {"steps": 100}}.')
    return {name: value for name, value in spec.items() if value is not None}


def check_uploads(uploads: list[Upload]) -> dict[str, Upload]:
    """One upload per known field, the photo among them."""
    found: dict[str, Upload] = {}
    for upload in uploads:
        if upload.field not in FILE_FIELDS:
            raise InputError(f"unknown file field {upload.field!r}; send {', '.join(FILE_FIELDS)}.")
        if upload.field in found:
            raise InputError(f"the file field {upload.field!r} is sent twice.")
        found[upload.field] = upload
    if "photo" not in found:
        raise InputError("no photo: send the photo to edit as the multipart file field 'photo'.")
    return found


def stage_job(folder: Path, uploads: dict[str, Upload], spec: dict[str, Any], editor: EditorSpec,
              job_id: str, power_safe: bool = False) -> RowTask:
    """Write the uploads into ``folder`` (``power_safe``: onto the disk, not only to the
    system's cache) and check the edit they ask for; the batch task that runs it. Raises
    InputError (or StorageError) having removed ``folder``."""
    paths = {name: _path(folder, upload) for name, upload in uploads.items()}
    try:
        _write(folder, uploads, paths, power_safe)
        return _check(paths, spec, editor, job_id)
    except InputError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise InputError(_named(str(error), paths, uploads)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _path(folder: Path, upload: Upload) -> Path:
    return folder / f"{upload.field}{_suffix(upload.filename)}"


def _write(folder: Path, uploads: dict[str, Upload], paths: dict[str, Path], power_safe: bool) -> None:
    try:
        folder.mkdir(parents=True)
        for name, upload in uploads.items():
            with open(paths[name], "wb") as handle:
                handle.write(upload.data)
                if power_safe:
                    handle.flush()
                    os.fsync(handle.fileno())
        if power_safe:
            _fsync_folder(folder)
            _fsync_folder(folder.parent)
    except OSError as error:
        raise StorageError(f"the server cannot store the upload ({error.strerror or error}); try again later.") \
            from None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _check(paths: dict[str, Path], spec: dict[str, Any], editor: EditorSpec,
           job_id: str) -> RowTask:
    photo_format = _check_photo(paths["photo"])
    conditions = {name: value for name, value in spec.items() if name not in (*ROW_OPTIONS, "config")}
    conditions |= {name: str(path) for name, path in paths.items() if name != "photo"}
    options = {name: spec[name] for name in (*ROW_OPTIONS, "config") if name in spec}
    output = result_name(job_id, EXTENSIONS[output_format(Path("result"), photo_format)])
    row = normalise_row(BatchRow(str(paths["photo"]), conditions, output=output, origin="spec", **options))
    check_conditions(**row.conditions)
    _check_weights(row, editor)
    return plan_rows([row], editor, RowDefaults())[0]


def _check_weights(row: BatchRow, editor: EditorSpec) -> None:
    """A file this edit needs (its preset, settings and conditions) that the server lacks is
    refused now, not found by a worker midway (which would stop every worker's queue)."""
    if editor.smoke:
        return
    from ..commands import check_weights_present, given_conditions

    folder = None if editor.weights_dir is None else Path(editor.weights_dir)
    try:
        check_weights_present(folder, editor.config_for(row.config), [(row.preset, given_conditions(row.conditions))])
    except MissingWeightsError as error:
        raise InputError(f"this server cannot make that edit: {error}") from None


def _check_photo(path: Path) -> str:
    """The photo's format, from its header; its size checked against the pixel limit."""
    try:
        with open_header(path) as image:
            check_pixel_count(image, str(path))
            return image.format
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for files that are not images
        raise InputError(f"{path} is not a readable image ({error}). Use a JPEG, PNG or WebP file.") from None


def _suffix(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _named(message: str, paths: dict[str, Path], uploads: dict[str, Upload]) -> str:
    """``message`` with the server's paths replaced by what the client sent."""
    for name, path in sorted(paths.items(), key=lambda item: -len(str(item[1]))):
        filename = re.sub(r"[\x00-\x1f\x7f]", "?", uploads[name].filename)[:120]  # the message stays one line
        message = message.replace(str(path), f"{name} ({filename})" if filename else name)
    return message
