"""``hairedit weights list | download | verify | trust``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import InputError
from .download import download, locate, missing_files, missing_files_summary
from .lock import lock_path, read_lock, trust
from .registry import WEIGHTS, WeightFile, weights_dir
from .verify import register_all_checks, verify

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weights", help="list, download or verify the pretrained files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, help_text, func in (
        ("list", "every file: present or missing, size, pinned or trusted on first use, sources (offline)", run_list),
        ("download", "fetch the missing files every edit needs (or the NAMES given, or --all), with progress; resumes",
         run_download),
        ("verify", "check every present file's sha256, then load it strictly into its network", run_verify),
        ("trust", "record the file now present as trusted (for files without a published checksum)", run_trust),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--weights-dir", type=Path, default=None,
                            help="folder of the pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")
        if name in ("download", "trust"):
            action.add_argument("names", nargs="*" if name == "download" else "+", metavar="NAME",
                                help=f"some of: {', '.join(WEIGHTS)}")
        if name == "list":
            action.add_argument("--for", dest="edit", metavar="EDIT_OPTIONS", help=(
                'only the files one edit needs, given as edit\'s options: --for "--rgb red --preset instant"'))
        if name == "download":
            action.add_argument("--all", action="store_true",
                                help="every file, also those only the instant preset and `hairedit eval` use")
        action.set_defaults(func=func)


def _known(names: list[str]) -> list[str]:
    unknown = [name for name in names if name not in WEIGHTS]
    if unknown:
        raise InputError(f"unknown weight file(s) {', '.join(unknown)}; known: {', '.join(WEIGHTS)}")
    return names


def run_list(args: argparse.Namespace) -> int:
    names = list(WEIGHTS) if args.edit is None else _files_for(args.edit)
    print(f"weights folder: {weights_dir(args.weights_dir)} (checksums of unpinned files: {lock_path(args.weights_dir)})")
    if args.edit is not None:
        print(f"an edit with {args.edit} needs {len(names)} files:")
    records = read_lock(args.weights_dir)
    for entry in (WEIGHTS[name] for name in names):
        path = locate(entry.name, args.weights_dir)
        state = f"present  {path}" if path is not None else f"missing  ({_size(entry)})"
        print(f"  {entry.name:38s} {state}")
        print(f"      {entry.description}; needed for {entry.needed_for}")
        print(f"      {_trust(entry, records.get(entry.name))}")
        print(f"      from: {'; '.join(source.describe() for source in entry.sources)}")
        print(f"      licence: {entry.licence} ({entry.licence_source})")
    return 0


def _files_for(edit_options: str) -> list[str]:
    """The files an edit with ``edit_options`` (edit's own, as one string) cannot do without."""
    from ..commands import add_condition_options, add_editor_options, given_conditions, read_config
    from ..weight_needs import files_needed

    parser = argparse.ArgumentParser(prog="--for", add_help=False, exit_on_error=False)
    add_condition_options(parser)
    add_editor_options(parser)
    try:
        options, unknown = parser.parse_known_args(shlex.split(edit_options))
    except (argparse.ArgumentError, ValueError) as error:
        raise InputError(f"--for: {error}") from None
    conditions = given_conditions(vars(options))
    if unknown or not conditions:
        raise InputError(f"--for: give an edit's conditions and settings (e.g. \"--rgb red --preset instant\"); "
                         f"{'unknown: ' + ' '.join(unknown) if unknown else 'no condition given'}.")
    return files_needed(read_config(options), conditions)


def _size(entry: WeightFile) -> str:
    if entry.shown_bytes is None:
        return "size unknown"
    return f"{'' if entry.size_bytes else 'about '}{entry.shown_bytes / 1e6:.1f} MB"


def _trust(entry: WeightFile, record) -> str:
    if entry.pinned:
        return f"pinned: sha256 {entry.sha256[:16]}..., {entry.size_bytes} bytes ({entry.pin_source})"
    if record is None:
        return "trusted on first use: not recorded yet"
    return f"trusted on first use: sha256 {record.sha256[:16]}... recorded {record.recorded[:10]} ({record.source})"


def run_download(args: argparse.Namespace) -> int:
    names = _known(args.names) or [name for name, entry in WEIGHTS.items() if args.all or entry.group == "edit"]
    missing = missing_files(names, args.weights_dir)
    if missing:
        print(f"{missing_files_summary(missing)} Downloading into {weights_dir(args.weights_dir)}.", file=sys.stderr)
    else:
        print("every file asked for is present; checking them.", file=sys.stderr)
    register_all_checks()  # a file trusted on first use is loaded strictly before it is recorded
    try:
        paths = download(names, args.weights_dir, progress=True)
    except KeyboardInterrupt:
        print("hairedit: download stopped; run the same command again to resume it.", file=sys.stderr)
        return 130
    for path in paths:
        print(f"ok  {path}")
    if missing:  # what may be done with the files fetched is their publishers' to say
        print("licences of the files fetched (they decide what you may do with the results):")
        for entry in missing:
            print(f"  {entry.name}: {entry.licence} ({entry.licence_source})")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    failed = False
    for result in verify(args.weights_dir):
        print(f"{result.status:8s} {result.name}  {result.detail}".rstrip())
        failed |= result.status == "failed"
    return 1 if failed else 0


def run_trust(args: argparse.Namespace) -> int:
    for name in _known(args.names):
        path = locate(name, args.weights_dir)
        record = trust(name, path, args.weights_dir)
        if record is None:
            print(f"{name}: not present; its record was dropped, so the next download is trusted on first use")
        else:
            print(f"{name}: trusted, sha256 {record.sha256} ({record.size_bytes} bytes)")
    return 0
