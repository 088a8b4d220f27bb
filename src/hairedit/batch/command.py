"""``hairedit batch``: many edits from a manifest, a folder of photos, or a folder x a
catalogue of styles; resumable, on this machine or a Ray cluster (docs/batch.md).

Exit status: 0 when every row is done (now or before), 1 when some rows failed (their
reasons are in OUTDIR/report.jsonl), 2 when nothing was run (a malformed manifest, a bad
option).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from ..commands import (
    CONDITION_OPTIONS,
    SMOKE_NOTICE,
    add_condition_options,
    add_editor_options,
    check_weights_present,
    given_conditions,
    read_config,
)
from ..conditions import check_conditions
from ..devices import resolve_device
from ..errors import InputError
from .editor import EditorSpec
from .engine import BatchPlan, run_batch
from .keys import RowDefaults
from .manifest import BatchRow, catalogue_rows, folder_photos, folder_rows, read_manifest, read_styles
from .worker import StageUpdate

SUMMARY = "edit many photos: a manifest, a folder, or a folder x a catalogue of styles; resumable"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("batch", help=SUMMARY, description=(
        "Edit many photos with the networks loaded once. INPUT is a manifest (.csv or .jsonl, one edit a row, "
        "columns named as edit's options: photo, hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb, "
        "face, seed, preset, output), or a folder of photos edited with the conditions given as options, or with "
        "--styles, every photo x every style. A rerun skips the rows already done; see docs/batch.md."))
    parser.add_argument("input", type=Path, help="a manifest (.csv, .jsonl) or a folder of photos")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="the output folder: a path, or an fsspec URL such as s3://bucket/edited")
    parser.add_argument("--styles", type=Path, metavar="FILE", help=(
        "with a folder: every photo x every style of FILE (.txt: a hairstyle in words a line; .csv/.jsonl: condition "
        "columns and a name); writes OUTDIR/<photo>/<style>.png"))
    add_condition_options(parser)
    parser.add_argument("--format", choices=("png", "jpg", "webp"), default="png",
                        help="the outputs' format where rows do not name their files (default png)")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo rows done (or refused) before and replace files in the way")
    parser.add_argument("--workers", type=_positive, metavar="N",
                        help="worker processes (with --ray: actors; default one per GPU, else per CPU)")
    parser.add_argument("--devices", metavar="LIST", help="one worker per device, e.g. cuda:0,cuda:1")
    parser.add_argument("--threads", type=_positive, default=1, metavar="N", help=(
        "torch threads per worker (default 1). Outputs are byte-identical between runs with the same value, "
        "however the rows are spread; raise it with fewer workers when memory is short"))
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS", help=(
        "run on Ray (pip install 'hairedit[ray]'): alone, a Ray instance started here; 'auto' or an address joins "
        "a cluster"))
    add_editor_options(parser)
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    editor = EditorSpec(read_config(args), args.smoke, None if args.weights_dir is None else str(args.weights_dir),
                        args.threads)
    rows = batch_rows(args)
    devices = _devices(args)
    if not args.smoke:
        check_weights_present(args.weights_dir, editor.config,
                              [(row.preset, given_conditions(row.conditions)) for row in rows])
    try:
        with BatchBar() as bar:
            summary = run_batch(
                rows, args.output, editor, defaults=RowDefaults(args.face, args.seed, args.preset, args.format),
                overwrite=args.overwrite, workers=args.workers, devices=devices, cluster=args.ray, on_event=bar,
            )
    except KeyboardInterrupt:
        print("hairedit: batch interrupted; the rows done are kept: run the same command to finish.", file=sys.stderr)
        return 130
    print(f"batch: {summary.line()}")
    for warning, count in Counter(w for outcome in summary.done for w in outcome.warnings).items():
        print(f"hairedit: warning: {count} row{'s' if count > 1 else ''}: {warning}", file=sys.stderr)
    if args.smoke:
        print(f"hairedit: {SMOKE_NOTICE}", file=sys.stderr)
    return 1 if summary.failed else 0


def batch_rows(args: argparse.Namespace) -> list[BatchRow]:
    """The rows INPUT and the options describe; conditions given once (options, styles) are
    checked here, before any work."""
    conditions = {name: getattr(args, name) for name in CONDITION_OPTIONS if getattr(args, name) is not None}
    if not args.input.exists():
        raise InputError(f"{args.input}: no such manifest or folder.")
    if not args.input.is_dir():
        if conditions or args.styles is not None:
            raise InputError("with a manifest the conditions come from its columns; --styles and condition options "
                             "go with a folder of photos.")
        return read_manifest(args.input)
    if "://" not in args.output and Path(args.output).resolve() == args.input.resolve():
        raise InputError(f"{args.output} is the folder of photos; write the edits to another folder.")
    photos = folder_photos(args.input)
    if args.styles is not None:
        if conditions:
            raise InputError("give the conditions in the styles file or as options, not both.")
        styles = read_styles(args.styles)
        for style in styles:
            _check(style.conditions, f"{style.origin}: ")
        return catalogue_rows(photos, styles, args.format)
    _check(conditions, "")
    return folder_rows(photos, conditions, args.format)


def _check(conditions: dict, origin: str) -> None:
    """Conditions given once for many photos, checked as ``edit`` checks them."""
    try:
        check_conditions(**conditions)
    except InputError as error:
        raise InputError(f"{origin}{error}") from error


def _devices(args: argparse.Namespace) -> list[str] | None:
    if args.ray is not None and (args.devices or args.device):
        raise InputError("on Ray each actor gets its own GPU; --device and --devices are for this machine.")
    names = [name.strip() for name in args.devices.split(",") if name.strip()] if args.devices else [args.device]
    for name in names:
        resolve_device(name)  # refuses a device this machine lacks
    return names if names != [None] else None


class BatchBar:
    """One bar for the whole batch on stderr: rows edited, rate, ETA, and a running row's stage."""

    REFRESH_SECONDS = 0.5

    def __init__(self):
        self.bar = None
        self.shown = 0.0

    def __call__(self, event) -> None:
        from tqdm import tqdm

        if isinstance(event, BatchPlan):
            workers = f" on {event.workers} worker{'s' if event.workers > 1 else ''}" if event.to_run else ""
            print(f"batch: {event.rows} rows, {event.rows - event.to_run} need no work, {event.to_run} to edit{workers}",
                  file=sys.stderr)
            if event.to_run:
                self.bar = tqdm(total=event.to_run, unit="row", desc="batch", file=sys.stderr)
        elif self.bar is None:
            return
        elif isinstance(event, StageUpdate):
            self.bar.set_postfix_str(f"row {event.index + 1}: {event.stage} {event.step}/{event.total}", refresh=False)
            if time.monotonic() - self.shown > self.REFRESH_SECONDS:
                self.bar.refresh()
                self.shown = time.monotonic()
        else:
            self.bar.update(1)

    def __enter__(self) -> BatchBar:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
