"""The edits to compare: a manifest of rows, CSV (with a header) or JSONL (one object a line).

Columns: ``photo`` (required), any of ``edit``'s conditions under its names (``hairstyle``,
``hairstyle_ref``, ``sketch``, ``mask``, ``color``, ``color_ref``, ``rgb``; dashes work as
underscores), ``face``, ``seed``, ``preset`` (``--compare-presets`` overrides it) and
``output`` (names the row in the report). Relative paths are relative to the manifest's
folder. Empty cells are absent.

The rows carry the attribute names of ``hairedit batch``'s rows (``photo``, ``conditions``,
``face``, ``seed``, ``preset``, ``output``), the same manifest format.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ..commands import CONDITION_OPTIONS
from ..errors import InputError
from .runs import jsonl_records

FILE_CONDITIONS = ("hairstyle_ref", "sketch", "mask", "color_ref")
OTHER_COLUMNS = ("photo", "face", "seed", "preset", "output")


@dataclass
class ManifestRow:
    photo: str
    conditions: dict = field(default_factory=dict)  # edit's names -> text, or a path for the file conditions
    face: int | None = None
    seed: int | None = None
    preset: str | None = None
    output: str | None = None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Every row of the manifest, checked: refused whole, naming the line, at the first bad row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a manifest (.csv or .jsonl) of the edits to compare.")
    records = _csv_records(path) if path.suffix.lower() == ".csv" else jsonl_records(path)
    rows = [_row(record, line, path) for line, record in records]
    if not rows:
        raise InputError(f"{path} has no rows.")
    return rows


def _csv_records(path: Path) -> list[tuple[int, dict]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, record) for record in reader]


def _row(record: dict, line: int, path: Path) -> ManifestRow:
    where = f"{path}, line {line}"
    values = {str(key).strip().replace("-", "_"): value for key, value in record.items() if key is not None}
    values = {key: value for key, value in values.items() if value not in (None, "")}
    unknown = sorted(set(values) - set(CONDITION_OPTIONS) - set(OTHER_COLUMNS))
    if unknown:
        raise InputError(f"{where}: unknown column(s) {unknown}; known: {', '.join(OTHER_COLUMNS + CONDITION_OPTIONS)}.")
    if "photo" not in values:
        raise InputError(f"{where}: no photo.")
    photo = _existing(path.parent / str(values["photo"]), where)
    conditions = {}
    for name in CONDITION_OPTIONS:
        if name in values:
            conditions[name] = _existing(path.parent / str(values[name]), where) if name in FILE_CONDITIONS else values[name]
    return ManifestRow(
        photo, conditions, _integer(values, "face", None, where), _integer(values, "seed", None, where),
        values.get("preset"), values.get("output"),
    )


def _existing(path: Path, where: str) -> str:
    if not path.is_file():
        raise InputError(f"{where}: {path} does not exist.")
    return str(path)


def _integer(values: dict, key: str, default: int | None, where: str) -> int | None:
    if key not in values:
        return default
    try:
        return int(values[key])
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key} must be a whole number, not {values[key]!r}.") from None
