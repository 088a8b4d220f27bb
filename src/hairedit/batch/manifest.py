"""What a batch edits: rows from a manifest, a folder of photos, or a folder crossed with a
catalogue of styles.

A manifest is CSV (a header line naming the columns) or JSONL (one JSON object a line), one
edit a row. Columns, ``-`` and ``_`` alike:

=================================================  ============================================
``photo``                                          the photo to edit (required)
``hairstyle``, ``hairstyle_ref``, ``sketch``,      ``hairedit edit``'s conditions, same meaning
``mask``, ``color``, ``color_ref``, ``rgb``
``face``, ``seed``, ``preset``                     as ``edit``'s options (``face``: a number or ``all``);
                                                   the batch's values where absent
``output``                                         the file to write, relative to the output folder
                                                   (default ``<photo stem>-<12 hex>.png``, from the row key)
=================================================  ============================================

Relative paths are relative to the manifest's folder; an empty CSV cell or a JSON ``null`` is
an absent value. A manifest that cannot be read as rows (a bad column, a value of the wrong
kind, an unknown preset) is refused as a whole, naming its line. What ``edit`` itself would
refuse (a colour that is no colour, a missing photo, no face) fails that row only.

A styles file (the catalogue: every photo x every style) is a ``.txt`` with one hairstyle in
words a line, or a CSV / JSONL with the condition columns, ``seed``, ``preset`` and an
optional ``name`` (the output is ``<photo stem>/<name>.<format>``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from ..commands import CONDITION_OPTIONS
from ..conditions import parse_face
from ..config import PRESETS
from ..errors import InputError
from ..imageio import output_format

PATH_CONDITIONS = ("hairstyle_ref", "sketch", "mask", "color_ref")  # the conditions that name files
TEXT_CONDITIONS = ("hairstyle", "color")
ROW_OPTIONS = ("face", "seed", "preset")
MANIFEST_COLUMNS = ("photo", *CONDITION_OPTIONS, *ROW_OPTIONS, "output")
STYLE_COLUMNS = ("name", *CONDITION_OPTIONS, "seed", "preset")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
STYLE_NAME_CHARS = 60


class ManifestError(InputError):
    """A manifest, styles file or list of rows that cannot be read as rows; nothing was run."""


@dataclass(frozen=True)
class BatchRow:
    """One edit: ``photo`` with ``conditions`` (``edit``'s keyword names), written to ``output``.

    ``face``, ``seed`` and ``preset`` left None take the batch's defaults (with a ``config``
    of its own, a row's preset and seed default to that config's); ``output`` left None is
    named from the row key. ``origin`` says where the row came from, for messages.
    """

    photo: str
    conditions: dict[str, Any] = field(default_factory=dict)
    face: int | str | None = None  # a face's index, or "all"
    seed: int | None = None
    preset: str | None = None
    output: str | None = None
    origin: str = ""
    config: dict[str, Any] | None = None  # settings of this row's own (as --config's JSON), instead of the batch's


@dataclass(frozen=True)
class Style:
    """One entry of a catalogue: conditions under a name, applied to every photo."""

    name: str
    conditions: dict[str, Any]
    seed: int | None = None
    preset: str | None = None
    origin: str = ""


# -- manifests ------------------------------------------------------------------------------


def read_manifest(path: str | Path) -> list[BatchRow]:
    """The rows of a CSV or JSONL manifest; ManifestError naming the line when malformed."""
    path = Path(path)
    rows = [_manifest_row(values, path.parent, f"{path}, line {line}") for line, values in
            _records(path, MANIFEST_COLUMNS)]
    if not rows:
        raise ManifestError(f"{path} has no rows.")
    return rows


def _manifest_row(values: dict[str, Any], base: Path, origin: str) -> BatchRow:
    photo = values.pop("photo", None)
    if photo is None:
        raise ManifestError(f"{origin}: no photo.")
    output = values.pop("output", None)
    options = _options(values, origin)
    return BatchRow(
        photo=_path(photo, base, "photo", origin),
        conditions=_conditions(values, base, origin),
        output=None if output is None else output_name(output, origin),
        origin=origin,
        **options,
    )


def normalise_row(row: BatchRow) -> BatchRow:
    """A row built in Python held to the manifest's rules; relative paths made absolute (from
    the working folder), so that workers elsewhere find the same files."""
    origin = row.origin or "a row"
    unknown = set(row.conditions) - set(CONDITION_OPTIONS)
    if unknown:
        raise ManifestError(f"{origin}: unknown conditions {sorted(unknown)}; known: {', '.join(CONDITION_OPTIONS)}.")
    _options({name: getattr(row, name) for name in ROW_OPTIONS if getattr(row, name) is not None}, origin)
    return replace(
        row,
        photo=_path(str(row.photo) if isinstance(row.photo, Path) else row.photo, Path.cwd(), "photo", origin),
        conditions=_conditions({k: str(v) if isinstance(v, Path) else v for k, v in row.conditions.items()},
                               Path.cwd(), origin),
        output=None if row.output is None else output_name(row.output, origin),
        origin=origin,
    )


# -- catalogues and folders -----------------------------------------------------------------


def read_styles(path: str | Path) -> list[Style]:
    """A catalogue of styles: ``.txt`` (a hairstyle in words a line) or CSV / JSONL."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        records = [(line, {"hairstyle": text.strip()}) for line, text in enumerate(_lines(path), 1)
                   if text.strip() and not text.lstrip().startswith("#")]
    else:
        records = list(_records(path, STYLE_COLUMNS))
    styles, names = [], {}
    for line, values in records:
        origin = f"{path}, line {line}"
        name = values.pop("name", None)
        options = _options(values, origin)
        conditions = _conditions(values, path.parent, origin)
        name = _style_name(name, conditions, line, origin)
        if name in names:
            raise ManifestError(f"{origin}: the style name '{name}' is taken by line {names[name]}; give each style its own name.")
        names[name] = line
        styles.append(Style(name, conditions, options.get("seed"), options.get("preset"), origin))
    if not styles:
        raise ManifestError(f"{path} has no styles.")
    return styles


def folder_photos(folder: str | Path) -> list[Path]:
    """The photos directly in ``folder`` (any extension Pillow reads), by name."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of photos.")
    extensions = Image.registered_extensions()
    photos = sorted(path for path in folder.iterdir()
                    if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in extensions)
    if not photos:
        raise InputError(f"{folder} holds no photos (JPEG, PNG, WebP, ...).")
    stems: dict[str, Path] = {}
    for photo in photos:
        if photo.stem in stems:
            raise InputError(f"{stems[photo.stem].name} and {photo.name} would write the same output; rename one.")
        stems[photo.stem] = photo
    return photos


def folder_rows(photos: Sequence[Path], conditions: dict[str, Any], image_format: str = "png") -> list[BatchRow]:
    """Every photo with the same conditions, written as ``<stem>.<format>``."""
    return [BatchRow(str(photo), dict(conditions), output=f"{photo.stem}.{image_format}", origin=str(photo))
            for photo in photos]


def catalogue_rows(photos: Sequence[Path], styles: Sequence[Style], image_format: str = "png") -> list[BatchRow]:
    """Every photo x every style, written as ``<photo stem>/<style name>.<format>``."""
    return [
        BatchRow(str(photo), dict(style.conditions), seed=style.seed, preset=style.preset,
                 output=f"{photo.stem}/{style.name}.{image_format}", origin=f"{photo} x {style.origin}")
        for photo in photos for style in styles
    ]


# -- reading records -------------------------------------------------------------------------


def _records(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, {column: value}) of each non-empty row of a CSV or JSONL file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_records(path, columns)
    if suffix == ".jsonl":
        return _jsonl_records(path, columns)
    raise ManifestError(f"{path}: use a .csv or .jsonl file (one edit a row).")


def _text_of(path: Path) -> str:
    if not path.is_file():
        raise ManifestError(f"{path}: no such file.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(f"{path} is not UTF-8 text ({error}).") from error


def _lines(path: Path) -> list[str]:
    return _text_of(path).splitlines()


def _csv_records(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    # Quoted values may hold line breaks; strict, so that a quote never closed is an error
    # rather than one value swallowing every later row.
    reader = csv.reader(io.StringIO(_text_of(path), newline=""), strict=True)
    try:
        header = [_column(name, columns, f"{path}, line 1") for name in _next_record(reader, path, 1)]
    except StopIteration:
        raise ManifestError(f"{path} is empty; the first line names the columns, e.g. photo,hairstyle.") from None
    repeated = {name for name in header if header.count(name) > 1}
    if repeated:
        raise ManifestError(f"{path}, line 1: the column {sorted(repeated)[0]} is named twice.")
    line = reader.line_num
    while True:
        start = line + 1  # a quoted value may span lines: name the first
        try:
            record = _next_record(reader, path, start)
        except StopIteration:
            return
        line = reader.line_num
        if not any(value.strip() for value in record):
            continue
        if len(record) != len(header):
            raise ManifestError(f"{path}, line {start}: {len(record)} values for {len(header)} columns.")
        yield start, {name: value.strip() for name, value in zip(header, record) if value.strip()}


def _next_record(reader, path: Path, start: int) -> list[str]:
    """The next record of a strict csv.reader; ManifestError naming the line it starts on."""
    try:
        return next(reader)
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise ManifestError(f"{path}, line {start}: a quoted value opened here is never closed (a missing \").") \
                from None
        raise ManifestError(f"{path}, line {start}: not CSV ({error}).") from None


def _jsonl_records(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, record in jsonl_records(path):
        origin = f"{path}, line {line}"
        yield line, {_column(name, columns, origin): value for name, value in record.items() if value is not None}


def jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-empty line of a JSONL file; ManifestError naming a bad line."""
    for line, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise ManifestError(f"{path}, line {line}: not JSON ({error.msg}, column {error.colno}).") from None
        if not isinstance(record, dict):
            raise ManifestError(f"{path}, line {line}: expected a JSON object (one a line).")
        yield line, record


def _column(name: str, columns: Sequence[str], origin: str) -> str:
    column = name.strip().lower().replace("-", "_")
    if column not in columns:
        raise ManifestError(f"{origin}: unknown column '{name}'; known: {', '.join(columns)}.")
    return column


# -- checking values -------------------------------------------------------------------------


def _options(values: dict[str, Any], origin: str) -> dict[str, Any]:
    """face, seed and preset taken out of ``values``, checked."""
    options = {}
    if "face" in values:
        try:
            options["face"] = parse_face(values.pop("face"))
        except ValueError as error:
            raise ManifestError(f"{origin}: {error}.") from None
    if "seed" in values:
        options["seed"] = _whole_number(values.pop("seed"), "seed", origin)
    if "preset" in values:
        preset = values.pop("preset")
        if preset not in PRESETS:
            raise ManifestError(f"{origin}: unknown preset {preset!r}; use {', '.join(PRESETS)}.")
        options["preset"] = preset
    return options


def _conditions(values: dict[str, Any], base: Path, origin: str) -> dict[str, Any]:
    """The conditions of ``values``: texts kept, file names resolved against ``base``."""
    conditions = {}
    for name, value in values.items():
        if name in PATH_CONDITIONS:
            conditions[name] = _path(value, base, name, origin)
        elif name == "rgb":
            conditions[name] = _rgb(value, origin)
        else:
            conditions[name] = _text(value, name, origin)
    return conditions


def _whole_number(value: Any, name: str, origin: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ManifestError(f"{origin}: {name} must be a whole number, not {value!r}.")


def _text(value: Any, name: str, origin: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{origin}: {name} must be text, not {value!r}.")
    return value


def _path(value: Any, base: Path, name: str, origin: str) -> str:
    path = Path(_text(value, name, origin)).expanduser()
    return str(path if path.is_absolute() else base / path)


def _rgb(value: Any, origin: str) -> str | tuple:
    if isinstance(value, (list, tuple)):  # a JSON list, or a tuple from Python
        return tuple(value)  # checked by edit, as three whole numbers 0..255
    return _text(value, "rgb", origin)


def output_name(value: Any, origin: str) -> str:
    """An output file name: relative, inside the output folder, in a format hairedit writes."""
    name = PurePosixPath(_text(value, "output", origin).replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts:
        raise ManifestError(f"{origin}: output {str(value)!r} must be a file name inside the output folder.")
    try:
        output_format(name)
    except InputError as error:
        raise ManifestError(f"{origin}: output {error}") from None
    return str(name)


def _style_name(name: Any, conditions: dict[str, Any], line: int, origin: str) -> str:
    """The ``name`` given, else one made of the texts (``bob_cut_hairstyle``), else ``style<line>``."""
    if name is not None:
        name = _text(name, "name", origin).strip()
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ManifestError(f"{origin}: the style name {name!r} cannot be a file name.")
        return name
    words = " ".join(str(conditions[key]) for key in TEXT_CONDITIONS if key in conditions)
    slug = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")[:STYLE_NAME_CHARS]
    return slug or f"style{line}"
