"""Fetching pretrained files: every source in order, resumable, checked, moved in atomically.

Hugging Face files are plain HTTPS downloads from ``$HF_ENDPOINT`` (default
https://huggingface.co); Google Drive files go through gdown; files that ship inside a
Python package are used where they are installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..errors import DownloadError, MissingWeightsError
from .registry import GoogleDriveFile, HuggingFaceFile, PackageFile, UrlFile, WeightFile, get_weight_file, weights_dir

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


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


def ensure(name: str, folder: str | Path | None = None, download: bool = True, progress: bool = True) -> Path:
    """The path of ``name``, downloading it first when missing (unless ``download`` is False)."""
    found = locate(name, folder)
    if found is not None:
        return found
    if not download:
        raise MissingWeightsError(missing_weights_message([name], folder))
    return fetch(get_weight_file(name), weights_dir(folder), progress)


def download(names: list[str] | None = None, folder: str | Path | None = None, progress: bool = True) -> list[Path]:
    """Make sure every file in ``names`` (default: all) is present. Raises one DownloadError
    listing every file that could not be had."""
    from .registry import WEIGHTS

    failures, paths = [], []
    for name in names or list(WEIGHTS):
        try:
            paths.append(ensure(name, folder, progress=progress))
        except DownloadError as error:
            failures.append(str(error))
    if failures:
        raise DownloadError("\n".join(failures))
    return paths


def missing_weights_message(names: list[str], folder: str | Path | None = None) -> str:
    target = weights_dir(folder)
    lines = [f"missing pretrained file(s); run `hairedit weights download`, or put them in {target}:"]
    for name in names:
        entry = get_weight_file(name)
        sources = "; ".join(source.describe() for source in entry.sources)
        lines.append(f"  {entry.name} ({entry.description}) from: {sources}")
    return "\n".join(lines)


def fetch(entry: WeightFile, folder: Path, progress: bool = True) -> Path:
    """Try each source of ``entry`` in order; the file lands in ``folder`` whole and checked, or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.name
    errors = []
    for source in entry.sources:
        try:
            if isinstance(source, PackageFile):
                shipped = package_file(source)
                if shipped is None:
                    raise DownloadError(f"the package '{source.distribution}' is not installed")
                return shipped
            if isinstance(source, GoogleDriveFile):
                _fetch_google_drive(source, target.with_name(target.name + ".part"), progress)
            else:
                _fetch_http(_url_of(source), target.with_name(target.name + ".part"), entry, progress)
            _check(target.with_name(target.name + ".part"), entry)
            os.replace(target.with_name(target.name + ".part"), target)
            return target
        except (DownloadError, OSError, urllib.error.URLError) as error:
            errors.append(f"{source.describe()}: {error}")
    message = [f"could not download {entry.name} ({entry.description}). Tried:"]
    message += [f"  - {line}" for line in errors]
    message.append(f"Download it by hand from one of those sources and put it at {target}.")
    raise DownloadError("\n".join(message))


def _url_of(source: HuggingFaceFile | UrlFile) -> str:
    if isinstance(source, HuggingFaceFile):
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        return f"{endpoint}/{source.repo}/resolve/main/{source.path}"
    return source.url


def _fetch_http(url: str, part: Path, entry: WeightFile, progress: bool) -> None:
    """Download ``url`` into ``part``, resuming what an earlier attempt left there."""
    for _ in range(3):  # a dropped connection resumes where it stopped
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "hairedit"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if have and response.status != 206:
                    have = 0  # the server ignored the range: start over
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else entry.size_bytes
                with open(part, "ab" if have else "wb") as handle, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=entry.name, disable=not progress
                ) as bar:
                    while chunk := response.read(CHUNK_BYTES):
                        handle.write(chunk)
                        bar.update(len(chunk))
            if length is None or part.stat().st_size >= have + int(length):
                return
        except urllib.error.HTTPError as error:
            if error.code == 416 and entry.size_bytes and have == entry.size_bytes:
                return  # already complete
            raise DownloadError(f"HTTP {error.code} {error.reason}") from error
        except (ConnectionError, TimeoutError, urllib.error.URLError) as error:
            if isinstance(error, urllib.error.URLError) and not isinstance(error.reason, (ConnectionError, TimeoutError)):
                raise DownloadError(str(error.reason)) from error
            continue
    raise DownloadError("the connection kept breaking off")


def _fetch_google_drive(source: GoogleDriveFile, part: Path, progress: bool) -> None:
    try:
        import gdown
    except ImportError as error:
        raise DownloadError("gdown is not installed (pip install gdown)") from error
    result = gdown.download(id=source.file_id, output=str(part), quiet=not progress, resume=True)
    if result is None or not part.is_file():
        raise DownloadError("Google Drive refused the download (quota or permissions)")


def _check(part: Path, entry: WeightFile) -> None:
    """Size and checksum; a mismatch deletes the file so that nothing bad stays in the cache."""
    size = part.stat().st_size
    if entry.size_bytes is not None and size != entry.size_bytes:
        part.unlink(missing_ok=True)
        raise DownloadError(f"got {size} bytes, expected {entry.size_bytes}; the partial file was removed")
    if entry.sha256 is not None:
        digest = hashlib.sha256()
        with open(part, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        if digest.hexdigest() != entry.sha256:
            part.unlink(missing_ok=True)
            raise DownloadError(f"checksum mismatch (sha256 {digest.hexdigest()}, expected {entry.sha256}); the file was removed")


def copy_into(path: Path, name: str, folder: str | Path | None = None) -> Path:
    """Put a file the user fetched by hand into the weights folder (checked first)."""
    entry = get_weight_file(name)
    target = weights_dir(folder) / entry.name
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    shutil.copyfile(path, part)
    _check(part, entry)
    os.replace(part, target)
    return target
