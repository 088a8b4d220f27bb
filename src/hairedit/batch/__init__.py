"""Batch editing: many edits with the networks loaded once, resumable, on this machine or a
Ray cluster (``hairedit batch``; docs/batch.md).

>>> from hairedit.batch import BatchRow, EditorSpec, run_batch
>>> rows = [BatchRow("me.jpg", {"hairstyle": "bob cut hairstyle"}, output="me_bob.png")]
>>> summary = run_batch(rows, "edited", EditorSpec())  # doctest: +SKIP
>>> [(o.output, o.status, o.error) for o in summary.outcomes]  # doctest: +SKIP
[('me_bob.png', 'done', None)]
"""

from .editor import EditorSpec
from .engine import BatchPlan, BatchSummary, run_batch
from .keys import RowDefaults
from .manifest import (
    BatchRow,
    ManifestError,
    Style,
    catalogue_rows,
    folder_photos,
    folder_rows,
    read_manifest,
    read_styles,
)
from .worker import RowOutcome, StageUpdate

__all__ = [
    "BatchPlan", "BatchRow", "BatchSummary", "EditorSpec", "ManifestError", "RowDefaults", "RowOutcome",
    "StageUpdate", "Style", "catalogue_rows", "folder_photos", "folder_rows", "read_manifest", "read_styles",
    "run_batch",
]
