"""Fetching pretrained files: every source in order, resumable, checked, moved in atomically.

Hugging Face files are plain HTTPS downloads from ``$HF_ENDPOINT`` (default
https://huggingface.co) at the registry's revision; Google Drive files go through gdown;
files that ship inside a Python package are used where they are installed; a file published
inside a zip archive is unpacked from the downloaded archive. Every file is
checked against its pin or lock-file record (:mod:`.lock`) before it is used.

For programs (the UI):

>>> missing = missing_files()                               # doctest: +SKIP
>>> print(missing_files_message(missing))                   # doctest: +SKIP
>>> download([e.name for e in missing], progress=callback)  # doctest: +SKIP

``callback`` receives a :class:`DownloadProgress` after every chunk; raising from it stops
the download (the partial file stays, and the next download resumes it).
"""

from __future__ import annotations

import bz2
import glob
import hashlib
import http.client
import importlib.metadata
import logging
import os
import shutil
import socket
import ssl
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import DownloadError, HaireditError, MissingWeightsError
from .checks import load_strictly
from .lock import check_file, difference, exclusive, expected, record_file
from .progress import Tracker, reporter
from .registry import (
    WEIGHTS,
    GoogleDriveFile,
    HuggingFaceFile,
    PackageFile,
    UrlFile,
    WeightFile,
    ZipMember,
    get_weight_file,
    weights_dir,
)

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60
ATTEMPTS_PER_SOURCE = 3  # a dropped connection resumes where it stopped, this many times

log = logging.getLogger(__name__)


# -- what is there, what is missing ----------------------------------------------------------


def locate(name: str, folder: str | Path | None = None) -> Path | None:
    """Where ``name`` is on disk now: the weights folder, or inside an installed package."""
    entry = get_weight_file(name)
    candidate = weights_dir(folder) / entry.name
    if candidate.is_file():
        return candidate
    for source in entry.sources:
        if isinstance(source, PackageFile):
            shipped = package_file(source)
            if shipped is not None:
                return shipped
    return None


def package_file(source: PackageFile) -> Path | None:
    """A file inside an installed distribution, found without importing the package."""
    try:
        path = Path(importlib.metadata.distribution(source.distribution).locate_file(source.path))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def missing_files(names: Iterable[str] | None = None, folder: str | Path | None = None) -> list[WeightFile]:
    """The files among ``names`` (default: all) that are not on disk. Offline and fast."""
    return [get_weight_file(name) for name in (WEIGHTS if names is None else names) if locate(name, folder) is None]


def missing_files_summary(missing: list[WeightFile]) -> str:
    """'2 pretrained files are missing (about 0.7 GB): a (133 MB), b (605 MB).'"""
    if not missing:
        return "Every pretrained file is present."
    files = ", ".join(f"{entry.name} ({_megabytes(entry.shown_bytes)})" for entry in missing)
    return f"{len(missing)} pretrained file{'s are' if len(missing) > 1 else ' is'} missing ({_total(missing)}): {files}."


def missing_files_message(missing: list[WeightFile], folder: str | Path | None = None) -> str:
    """One short message: which files are missing, how large, and the command that fetches them."""
    if not missing:
        return missing_files_summary(missing)
    # A plain `weights download` fetches the files of everyday edits; others are named.
    command = "hairedit weights download"
    if any(entry.group != "edit" for entry in missing):
        command += " " + " ".join(entry.name for entry in missing)
    if len(missing) == 1:
        sources = "; ".join(source.describe() for source in missing[0].sources)
        return f"{missing_files_summary(missing)} Fetch it with `{command}` (into {weights_dir(folder)}), or from: {sources}."
    return (
        f"{missing_files_summary(missing)} Fetch them with `{command}` "
        f"(into {weights_dir(folder)}; `hairedit weights list` shows the sources)."
    )


def _megabytes(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _total(entries: list[WeightFile]) -> str:
    known = sum(entry.shown_bytes or 0 for entry in entries)
    unknown = sum(entry.shown_bytes is None for entry in entries)
    total = f"about {known / 1e9:.1f} GB" if known >= 1e8 else f"about {_megabytes(known)}"
    return total + (f" and {unknown} of unknown size" if unknown else "")


# -- getting files ---------------------------------------------------------------------------


def ensure(name: str, folder: str | Path | None = None, download: bool = True, progress=True) -> Path:
    """The checked path of ``name``, downloading it first when missing (unless ``download`` is False).

    Raises:
        MissingWeightsError: missing and ``download`` is False.
        DownloadError: missing and no source could deliver it.
        ChecksumError: the file differs from its pin or its lock-file record.
    """
    entry = get_weight_file(name)
    found = locate(name, folder)
    if found is not None:
        check_file(found, entry, folder)
        return found
    if not download:
        raise MissingWeightsError(missing_files_message([entry], folder))
    return download_files([name], folder, progress)[0]


def download(names: list[str] | None = None, folder: str | Path | None = None, progress=True) -> list[Path]:
    """Make sure every file in ``names`` (None: all; an empty list: none) is present and checked.

    ``progress``: True for terminal progress bars, False for none, or a
    :data:`ProgressCallback`. Raises one DownloadError listing every file that could not be had.
    """
    return download_files(list(WEIGHTS) if names is None else names, folder, progress)


def download_files(names: list[str], folder: str | Path | None, progress=True) -> list[Path]:
    present = {name: locate(name, folder) for name in names}
    paths = {name: ensure(name, folder, download=False) for name, path in present.items() if path is not None}
    wanted = [get_weight_file(name) for name, path in present.items() if path is None]
    failures = []
    with reporter(progress) as report:
        tracker = Tracker(wanted, report)
        for entry in wanted:
            try:
                paths[entry.name] = fetch(entry, weights_dir(folder), tracker)
            except DownloadError as error:
                failures.append(str(error))
    if failures:
        # One line a file, then what to do about them all.
        count = f"{len(failures)} of {len(wanted)} file{'s' if len(wanted) > 1 else ''}"
        raise DownloadError("\n".join([*failures, (
            f"{count} could not be downloaded; fetch them by hand from the sources `hairedit weights list` shows, "
            f"into {weights_dir(folder)}, or run the same command again to resume."
        )]))
    return [paths[name] for name in names]


def fetch(entry: WeightFile, folder: Path, tracker: Tracker | None = None) -> Path:
    """Try each source of ``entry`` in order; the file lands in ``folder`` whole and checked, or not at all.

    One thread or process at a time fetches a file; one that waited for another uses its file.
    """
    tracker = tracker or Tracker([entry], lambda progress: None)
    tracker.start(entry)
    target = folder / entry.name
    try:
        with exclusive(folder, entry.name):
            if target.is_file():  # fetched by another thread or process meanwhile
                check_file(target, entry, folder)
                tracker.finish()
                return target
            return _fetch_from_a_source(entry, target, tracker)
    except OSError as error:  # the weights folder, not a source: the other sources would fail alike
        tracker.fail()
        paths = " -> ".join(str(name) for name in (error.filename, error.filename2) if name)
        raise DownloadError(
            f"could not save {entry.name} in {folder}: {_reason(error)}" + (f" ({paths})" if paths else "")
            + ". Make sure the folder is writable and has free space, "
            "or choose another ($HAIREDIT_HOME or --weights-dir)."
        ) from error


def _fetch_from_a_source(entry: WeightFile, target: Path, tracker: Tracker) -> Path:
    folder = target.parent
    reasons = []
    for source in entry.sources:
        # One partial file per source: a later run resumes it, and never mixes two sources' bytes.
        part = folder / f"{entry.name}.{hashlib.sha1(source.describe().encode()).hexdigest()[:8]}.part"
        try:
            if isinstance(source, PackageFile):
                shipped = package_file(source)
                if shipped is None:
                    raise DownloadError(f"the package '{source.distribution}' is not installed")
                check_file(shipped, entry, folder, source.describe())
                tracker.finish()
                return shipped
            _fetch_source(source, part, entry, tracker)
            _check_download(part, entry, folder, source.describe())
            os.replace(part, target)
            for leftover in folder.glob(f"{glob.escape(entry.name)}.*.part"):
                leftover.unlink()  # other sources' unfinished attempts
            tracker.finish()
            return target
        except DownloadError as error:
            log.debug("%s from %s failed", entry.name, source.describe(), exc_info=True)
            reasons.append((source.describe(), str(error)))
    tracker.fail()
    raise DownloadError(f"{entry.name}: not downloaded: {_reasons_line(reasons)}")


def _reasons_line(reasons: list[tuple[str, str]]) -> str:
    """Why each source failed, on one line; a reason they all share (no network) said once."""
    if len(reasons) > 1 and len({reason for _, reason in reasons}) == 1:
        return f"{reasons[0][1]} (from each of: {', '.join(source for source, _ in reasons)})"
    return "; ".join(f"{source}: {reason}" for source, reason in reasons)


def _fetch_source(source, part: Path, entry: WeightFile, tracker: Tracker) -> None:
    if isinstance(source, GoogleDriveFile):
        _fetch_google_drive(source, part, tracker)
    elif isinstance(source, UrlFile) and source.compression == "bz2":
        packed = part.with_suffix(".bz2.part")
        _fetch_http(source.url, packed, tracker)
        _decompress_bz2(packed, part)
    elif isinstance(source, (UrlFile, HuggingFaceFile)):
        _fetch_http(_url_of(source), part, tracker)
    elif isinstance(source, ZipMember):
        packed = part.with_suffix(".zip.part")
        _fetch_source(source.archive, packed, entry, tracker)
        _extract_member(packed, source.member, part)
    else:
        raise DownloadError(f"no way to fetch {source.describe()}")


def _url_of(source: HuggingFaceFile | UrlFile) -> str:
    if isinstance(source, HuggingFaceFile):
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        return f"{endpoint}/{source.repo}/resolve/{source.revision}/{source.path}"
    return source.url


def _fetch_http(url: str, part: Path, tracker: Tracker) -> None:
    """Download ``url`` into ``part``, resuming what an earlier attempt left there."""
    for _ in range(ATTEMPTS_PER_SOURCE):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "hairedit"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if have and response.status != 206:
                    have = 0  # the server ignored the range: start over
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else None
                tracker.update(have, total)
                with open(part, "ab" if have else "wb") as handle:
                    while chunk := response.read(CHUNK_BYTES):
                        handle.write(chunk)
                        have += len(chunk)
                        tracker.update(have, total)
            if total is None or have >= total:
                return
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:
                return  # nothing left to send: the part is whole, and the checksum says if it is right
            raise DownloadError(f"HTTP {error.code} ({error.reason})") from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            if not _transient(error):
                raise DownloadError(_reason(error)) from error
            log.debug("connection to %s broke off at %d bytes; resuming", url, have, exc_info=True)
    raise DownloadError("the connection kept breaking off")


def _transient(error: BaseException) -> bool:
    """A connection that broke off (worth resuming), not one that could not be made."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    # http.client's errors are no OSError: a body cut inside a chunk, a reply cut before its status line.
    broken_off = (ConnectionError, TimeoutError, http.client.IncompleteRead, http.client.BadStatusLine)
    return isinstance(reason, broken_off) and not isinstance(reason, ConnectionRefusedError)


def _reason(error: BaseException, otherwise: str = "the download failed") -> str:
    """A short reason a user can act on, from the first cause in ``error``'s chain that says
    what happened (a name lookup, a refused connection, an HTTP status); else ``otherwise``.
    The exception itself goes to the debug log."""
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return "the server's name could not be looked up (no network?)"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(cause, (TimeoutError, socket.timeout)):
            return f"no answer within {TIMEOUT_S} s"
        if isinstance(cause, ssl.SSLError):
            return "the secure connection failed (a proxy or an old certificate store?)"
        status = getattr(getattr(cause, "response", None), "status_code", None)  # requests' HTTPError
        if isinstance(status, int):
            return f"refused with HTTP status {status}"
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        if isinstance(cause, http.client.HTTPException):
            return "the server's answer was malformed"
    return otherwise


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what lies under it: causes, contexts, a URLError's or urllib3's ``reason``
    and exceptions among the arguments (requests wraps urllib3, which wraps the socket's)."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found


def _decompress_bz2(packed: Path, part: Path) -> None:
    """Stream-decompress ``packed`` into ``part``, then delete ``packed``."""
    try:
        with bz2.open(packed, "rb") as source, open(part, "wb") as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)
    except (OSError, EOFError) as error:
        part.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)
        raise DownloadError("the server sent a broken bz2 file; it was removed") from error
    packed.unlink()


def _extract_member(packed: Path, member: str, part: Path) -> None:
    """Stream ``member`` out of the zip archive ``packed`` into ``part``, then delete ``packed``."""
    try:
        with zipfile.ZipFile(packed) as archive, archive.open(member) as source, open(part, "wb") as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)
    except KeyError as error:
        part.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)
        raise DownloadError(f"the archive it sent has no {member}; it was removed") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        part.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)
        raise DownloadError("the server sent a broken zip archive; it was removed") from error
    packed.unlink()


def _fetch_google_drive(source: GoogleDriveFile, part: Path, tracker: Tracker) -> None:
    from .._requirements import require

    require("gdown")
    import gdown

    try:
        result = gdown.download(
            id=source.file_id, output=str(part), quiet=True, resume=True,
            progress=lambda done, total: tracker.update(done, total),
        )
    except Exception as error:  # gdown raises its own errors, requests', or OSError
        raise DownloadError(_reason(error, "Google Drive refused the download (quota or permissions?)")) from error
    if result is None or not part.is_file():
        raise DownloadError("Google Drive refused the download (quota or permissions?)")


def _check_download(part: Path, entry: WeightFile, folder: Path, source: str) -> None:
    """``part`` against the pin or record, before it takes the file's name: a mismatch deletes it,
    so that nothing bad stays in the cache and the next source is tried. With nothing to check
    against yet, it is trusted on first use once it has loaded into its network, and recorded."""
    size, sha256, origin = expected(entry, folder)
    if sha256 is None:
        try:
            load_strictly(entry.name, part)
        except HaireditError as error:
            part.unlink()
            raise DownloadError(f"the file it sent does not load, and was removed ({error})") from error
        record_file(part, entry, folder, source)
        return
    problem = difference(part, size, sha256)
    if problem is not None:
        part.unlink()
        advice = "" if entry.pinned else (
            f"; if the file was changed at its source and you trust the new one, "
            f"run `hairedit weights trust {entry.name}` to drop the record, then download again"
        )
        raise DownloadError(f"checksum mismatch ({problem}, from {origin}); the download was removed{advice}")
