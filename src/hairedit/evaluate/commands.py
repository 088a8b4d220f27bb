"""``hairedit eval``: measure one edit, a batch's edits, or every preset on a manifest.

- ``hairedit eval --before A.jpg --after B.jpg [--rgb ...] [--hairstyle TEXT] [--json]``
- ``hairedit eval RUN_DIR [-o REPORT_DIR] [--json]``: a ``hairedit batch`` output folder
- ``hairedit eval MANIFEST --compare-presets faithful,fast -o REPORT_DIR``
- ``hairedit eval PHOTO_DIR --protocol hairfast [--compare-presets ...] [--seed N] -o REPORT_DIR``

Everything the command was given is checked before any network loads or any edit runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..commands import CONDITION_OPTIONS, SMOKE_NOTICE, add_condition_options
from ..errors import EditInterrupted, HaireditError, InputError

SMOKE_REPORT_NOTE = "Made with --smoke: small random networks. The edits and every metric that uses a network are meaningless."


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "eval", help="measure edits: identity, preservation, colour/text/shape agreement, FID; compare presets",
        description=(
            "Measure edits the way hair-editing papers do. One edit: --before and --after. A batch: its output folder. "
            "Presets: a manifest with --compare-presets and -o. HairFastGAN's protocol: a folder of photos with "
            "--protocol hairfast and -o. See docs/eval.md."
        ),
    )
    evaluate.add_argument("source", nargs="?", type=Path,
                          help="a `hairedit batch` output folder, a manifest (.csv/.jsonl) with --compare-presets, "
                               "or a folder of photos with --protocol")
    evaluate.add_argument("--before", type=Path, metavar="IMAGE", help="the photo before the edit")
    evaluate.add_argument("--after", type=Path, metavar="IMAGE", help="the edited photo (the same size)")
    add_condition_options(evaluate)
    evaluate.add_argument("--compare-presets", metavar="LIST",
                          help="edit every row of the manifest under each preset, e.g. faithful,fast")
    evaluate.add_argument("--protocol", choices=("hairfast",),
                          help="hairfast: HairFastGAN's realism protocol on a folder of photos (a seeded pairing, "
                               "transfer and reconstruction edits, a table with the published numbers)")
    evaluate.add_argument("-o", "--output", type=Path, metavar="REPORT_DIR",
                          help="write report.html, report.md, edits.csv, summary.csv and images/ there")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing report")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--no-fid", action="store_true", help="skip FID and FID_CLIP (no Inception download)")
    evaluate.add_argument("--require-all", action="store_true",
                          help="refuse to run when a metric's pretrained files are missing (default: measure the "
                               "rest and list those as skipped)")
    evaluate.add_argument("--smoke", action="store_true",
                          help="small random networks, no weights: the metrics that use a network are meaningless")
    evaluate.add_argument("--config", metavar="JSON|FILE",
                          help='settings for the edits of --compare-presets, e.g. {"text": {"steps": 100}}')
    evaluate.add_argument("--seed", type=int,
                          help="seed of the rows without one (--compare-presets; default: the settings' seed, 0); "
                               "--protocol: also the pairing's (default 0)")
    evaluate.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best available)")
    evaluate.add_argument("--weights-dir", type=Path,
                          help="pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")
    evaluate.set_defaults(func=run_eval, preset=None)  # each edit's preset is --compare-presets'; build_editor reads it


def run_eval(args: argparse.Namespace) -> int:
    conditions = {name: getattr(args, name) for name in CONDITION_OPTIONS if getattr(args, name) is not None}
    if args.before is not None or args.after is not None:
        return _run_pair(args, conditions)
    if args.source is None:
        raise InputError("give --before and --after, a batch output folder, or a manifest with --compare-presets.")
    if conditions or args.face:
        raise InputError("the conditions come from the batch's report or the manifest; give them only with --before.")
    if args.protocol:
        return _run_protocol(args)
    if args.source.is_dir():
        if args.compare_presets:
            raise InputError(f"{args.source} is a folder; --compare-presets needs a manifest (.csv or .jsonl).")
        return _run_folder(args)
    if args.compare_presets is None:
        raise InputError(
            f"{args.source}: to measure presets on a manifest, add --compare-presets faithful,fast and -o REPORT_DIR "
            "(to edit a manifest, use `hairedit batch`)."
        )
    return _run_compare(args)


# -- one edit ----------------------------------------------------------------------------------


def _run_pair(args: argparse.Namespace, conditions: dict) -> int:
    from ..imageio import load_photo
    from .measure import EditSample

    if args.before is None or args.after is None:
        raise InputError("give both --before and --after.")
    if args.source is not None or args.compare_presets or args.output is not None:
        raise InputError("--before/--after measure one edit: give no folder, manifest, --compare-presets or -o.")
    before, after = load_photo(args.before, str(args.before)), load_photo(args.after, str(args.after))
    evaluator = _evaluator(args, set(conditions), sets=False)
    measured = evaluator.measure(EditSample(before, after, args.face, conditions, name=args.after.name))
    if args.json:
        from .report import json_value

        values = {name: json_value(value) for name, value in measured.metrics.items()}
        print(json.dumps({**values, "skipped": evaluator.plan.skipped_json()}, indent=2))
    else:
        _print_metrics(measured.metrics)
    _skipped_notice(evaluator)
    _smoke_notice(args)
    return 0


def _print_metrics(metrics: dict[str, float]) -> None:
    from .identity import SAME_PERSON_DISTANCE
    from .measure import HIGHER_IS_BETTER
    from .report import format_value

    for name, value in metrics.items():
        if name.endswith("_before"):
            direction = "the photo before the edit, for comparison"
        else:
            direction = "higher is better" if name in HIGHER_IS_BETTER else "lower is better"
        print(f"{name:28s} {format_value(value):>10s}   ({direction})")
    distance = metrics.get("identity_distance", math.nan)
    if math.isfinite(distance):
        verdict = "the same person" if distance < SAME_PERSON_DISTANCE else "NOT the same person"
        print(f"identity: {verdict} by dlib's rule (distance {distance:.3f}, same below {SAME_PERSON_DISTANCE})")


# -- a batch's output folder ---------------------------------------------------------------------


def _run_folder(args: argparse.Namespace) -> int:
    from ..imageio import load_photo
    from .measure import EditSample
    from .runs import read_run

    edits, failures = read_run(args.source)
    if not edits:
        raise InputError(f"{args.source}: the batch finished no edit to measure ({len(failures)} failed).")
    if args.output is not None:
        _check_report_folder(args)
    asked = {name for edit in edits for name, value in edit.conditions.items() if value is not None}
    evaluator = _evaluator(args, asked, sets=not args.no_fid)
    measured = []
    for index, edit in enumerate(edits, 1):
        print(f"eval: [{index}/{len(edits)}] {edit.output.name}", file=sys.stderr)
        try:
            sample = EditSample(
                load_photo(edit.photo), load_photo(edit.output), edit.face, edit.conditions, edit.timings,
                name=edit.name, preset=edit.preset,
            )
            measured.append(evaluator.measure(sample))
        except HaireditError as error:
            from .report import Failure

            failures.append(Failure(edit.name, edit.preset, str(error).splitlines()[0]))
    return _finish(args, evaluator, f"hairedit eval: {args.source}", measured, failures)


# -- presets on a manifest -----------------------------------------------------------------------


def _run_compare(args: argparse.Namespace) -> int:
    from ..batch.manifest import read_manifest
    from .compare import check_presets

    presets = check_presets(args.compare_presets)
    if args.output is None:
        raise InputError("--compare-presets writes a report: give its folder with -o REPORT_DIR.")
    _check_report_folder(args)
    rows = read_manifest(args.source)
    asked = {name for row in rows for name, value in row.conditions.items() if value is not None}
    return _edit_and_measure(args, rows, presets, _plan(args, asked, sets=not args.no_fid),
                             f"hairedit eval: presets {', '.join(presets)} on {args.source}")


def _run_protocol(args: argparse.Namespace) -> int:
    """HairFastGAN's realism protocol on a folder of photos (see .protocol)."""
    if not args.source.is_dir():
        raise InputError(f"--protocol {args.protocol} edits a folder of photos; {args.source} is not one.")
    if args.output is None:
        raise InputError(f"--protocol {args.protocol} writes a report: give its folder with -o REPORT_DIR.")
    from ..commands import read_config
    from .compare import check_presets
    from .needs import SET_METRICS, plan_metrics
    from .protocol import CASES, RECONSTRUCTION_METRICS, TABLE_HEADER, TABLE_TITLE, group_name, protocol_rows
    from .protocol import protocol_table, regrouped

    presets = check_presets(args.compare_presets) if args.compare_presets else [read_config(args).preset]
    _check_report_folder(args)
    seed = 0 if args.seed is None else args.seed
    rows, cases = protocol_rows(args.source, seed)
    wanted = list(RECONSTRUCTION_METRICS) + ([] if args.no_fid else list(SET_METRICS))
    plan = plan_metrics(wanted, args.weights_dir, args.smoke, args.require_all)

    def table(summaries: dict, counts: dict) -> dict:
        return {TABLE_TITLE: (TABLE_HEADER, protocol_table(summaries, presets, counts))}

    return _edit_and_measure(
        args, rows, presets, plan,
        f"hairedit eval: HairFastGAN's protocol on {args.source} (seed {seed}), presets {', '.join(presets)}",
        regroup=lambda item: regrouped(item, cases), groups=[group_name(p, c) for p in presets for c in CASES],
        tables=table)


def _edit_and_measure(args, rows, presets, plan, title, regroup=None, groups=None, tables=None) -> int:
    """Every row under each preset, measured by ``plan``'s metrics, reported; ``regroup`` gives
    each result its report group (default: its preset)."""
    from ..batch.editor import EditorSpec
    from ..commands import check_weights_present, given_conditions, read_config
    from ..progress import ProgressBars
    from .compare import compare_presets
    from .measure import EditEvaluator
    from .report import Failure

    config = read_config(args)
    if not args.smoke:  # the files of every compared preset (not the settings' own), in one message
        check_weights_present(args.weights_dir, config,
                              [(preset, given_conditions(row.conditions)) for preset in presets for row in rows])
    editor = EditorSpec(config, args.smoke, args.weights_dir).build(args.device)
    evaluator = EditEvaluator(editor.components, args.weights_dir, plan)
    evaluator.load_networks()
    measured, failures, total = [], [], len(rows) * len(presets)
    bars: list[ProgressBars] = []

    def callback_for(label: str) -> ProgressBars:
        for old in bars:
            old.close()
        done = len(measured) + len(failures)
        print(f"eval: [{done + 1}/{total}] {label}", file=sys.stderr)
        bars[:] = [ProgressBars()]
        return bars[0]

    interrupted = False
    try:
        for item in compare_presets(editor, evaluator, rows, presets, args.seed, callback_for):
            item = regroup(item) if regroup else item
            (failures if isinstance(item, Failure) else measured).append(item)
    except (KeyboardInterrupt, EditInterrupted):
        interrupted = True  # report what is done
    finally:
        for old in bars:
            old.close()
    notes = [f"Interrupted after {len(measured) + len(failures)} of {total} edits."] if interrupted else []
    code = _finish(args, evaluator, title, measured, failures, notes, groups=groups or list(presets), tables=tables)
    return 130 if interrupted else code


# -- shared --------------------------------------------------------------------------------------


def _plan(args: argparse.Namespace, condition_names: set[str], sets: bool):
    """The metrics of edits asked for ``condition_names`` that the files present allow."""
    from .needs import plan_metrics, wanted_metrics

    return plan_metrics(wanted_metrics(condition_names, sets), args.weights_dir, args.smoke, args.require_all)


def _evaluator(args: argparse.Namespace, condition_names: set[str], sets: bool):
    """An evaluator on the networks the files present allow (random ones with --smoke): it
    measures without the files of an edit, and fetches nothing."""
    from ..commands import SMOKE_NETWORK_SEED
    from ..components import Components
    from ..devices import resolve_device
    from ..weights.registry import weights_dir
    from .measure import EditEvaluator

    plan = _plan(args, condition_names, sets)
    device = resolve_device(args.device)
    if args.smoke:
        components = Components.random(SMOKE_NETWORK_SEED, device=device)
    else:
        components = Components.pretrained(weights_dir(args.weights_dir), device, download=False)
    evaluator = EditEvaluator(components, args.weights_dir, plan)
    evaluator.load_networks()
    return evaluator


def _skipped_notice(evaluator) -> None:
    if evaluator.plan.skipped:
        print(f"hairedit: {evaluator.plan.notice()}", file=sys.stderr)


def _check_report_folder(args: argparse.Namespace) -> None:
    from .report import check_report_folder

    check_report_folder(args.output, args.overwrite)


def _finish(args, evaluator, title: str, measured: list, failures: list, notes: list[str] | None = None,
            groups: list[str] | None = None, tables=None) -> int:
    """Summarise per group, then print and write what was asked; exit status 1 if any edit failed.
    ``tables(summaries, counts)``: the report's extra tables, from each group's summary and edit count."""
    from .report import Report, group_of, report_json, write_report

    notes = list(notes or []) + ([SMOKE_REPORT_NOTE] if args.smoke else [])
    order = groups or list(dict.fromkeys(group_of(item) for item in measured))
    summaries = {}
    for group in order:
        items = [item for item in measured if group_of(item) == group]
        if items:
            summaries[group] = evaluator.summarise(items)
    notes += [evaluator.plan.notice()] if evaluator.plan.skipped else []
    counts = {group: sum(group_of(item) == group for item in measured) for group in order}
    extra = tables(summaries, counts) if tables else {}
    report = Report(title, measured, summaries, failures, notes, evaluator.plan.skipped_json(), extra)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        from .report import markdown

        print(markdown(report))
    if args.output is not None and measured:
        page = write_report(args.output, report, args.overwrite)
        print(f"wrote {page} ({len(measured)} edits measured, {len(failures)} failed)", file=sys.stderr)
    _smoke_notice(args)
    return 1 if failures else 0


def _smoke_notice(args: argparse.Namespace) -> None:
    if args.smoke:
        print(f"hairedit: {SMOKE_NOTICE}", file=sys.stderr)
