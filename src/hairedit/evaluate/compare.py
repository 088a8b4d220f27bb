"""Running every row of a manifest under each preset and measuring each edit."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..cache import InversionCache
from ..config import PRESETS
from ..errors import EditInterrupted, HaireditError, InputError
from ..imageio import load_photo
from .measure import EditEvaluator, EditSample, Measured
from .report import Failure


def check_presets(text: str) -> list[str]:
    """``--compare-presets`` as a list of distinct preset names the settings know."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InputError("--compare-presets needs preset names, e.g. faithful,fast.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"--compare-presets names {repeated[0]} twice.")
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        raise InputError(f"--compare-presets: unknown preset {unknown[0]!r}; the presets are {', '.join(PRESETS)}.")
    return names


def row_name(row, index: int) -> str:
    """What the report calls a row: its output name's stem, else its photo's, numbered from 1."""
    stem = Path(row.output).stem if row.output else Path(str(row.photo)).stem
    return f"{index + 1}_{stem}"


def compare_presets(
    editor,
    evaluator: EditEvaluator,
    rows: Sequence,
    presets: Sequence[str],
    seed: int | None = None,
    callback_for: Callable[[str], Callable] | None = None,
) -> Iterator[Measured | Failure]:
    """Each row edited under each preset, measured: a Measured per edit, or a Failure with its
    one-line reason (a bad row does not stop the rest).

    Inversions are cached for the run only, one cache per preset: a photo in several rows is
    inverted once per preset, and neither an earlier run nor another preset (whose inversion
    settings may be the same) can flatter a preset's seconds.
    ``callback_for(label)`` gives the edit's progress callback.
    """
    saved_cache = editor.cache
    with tempfile.TemporaryDirectory(prefix="hairedit-eval-") as folder:
        caches = {preset: InversionCache(Path(folder) / preset) for preset in presets}
        for preset in presets:  # loading is not a preset's seconds per edit
            editor.load_networks(preset)
        try:
            for index, row in enumerate(rows):
                name = row_name(row, index)
                for preset in presets:
                    editor.cache = caches[preset]
                    try:
                        yield _edit_and_measure(editor, evaluator, row, name, preset, seed, callback_for)
                    except EditInterrupted:
                        raise
                    except HaireditError as error:
                        yield Failure(name, preset, str(error).splitlines()[0])
        finally:
            editor.cache = saved_cache


def _edit_and_measure(editor, evaluator, row, name, preset, seed, callback_for) -> Measured:
    photo = load_photo(row.photo)
    face = row.face or 0
    callback = callback_for(f"{name} / {preset}") if callback_for else None
    result = editor.edit(photo, face=face, preset=preset, seed=row.seed if row.seed is not None else seed,
                         callback=callback, previews=False, **row.conditions)
    sample = EditSample(
        before=photo, after=np.asarray(result.image), face=face, conditions=row.conditions, timings=result.timings,
        aligned=result.aligned, crop_after=np.asarray(result.crop_after), name=name, preset=preset,
    )
    return evaluator.measure(sample)
