"""``hairedit weights list | download | verify``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .download import download, locate
from .registry import WEIGHTS, weights_dir
from .verify import verify


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weights", help="list, download or verify the pretrained files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, help_text, func in (
        ("list", "every file, where it is looked for, present or missing (offline)", run_list),
        ("download", "fetch missing files (all, or the NAMES given)", run_download),
        ("verify", "load every present file strictly into its network", run_verify),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--weights-dir", type=Path, default=None,
                            help="folder of the pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")
        if name == "download":
            action.add_argument("names", nargs="*", metavar="NAME", help=f"some of: {', '.join(WEIGHTS)}")
        action.set_defaults(func=func)


def run_list(args: argparse.Namespace) -> int:
    folder = weights_dir(args.weights_dir)
    print(f"weights folder: {folder}")
    for entry in WEIGHTS.values():
        path = locate(entry.name, args.weights_dir)
        if path is None:
            state = "missing"
        else:
            state = f"present  {path.stat().st_size / 1e6:8.1f} MB  {path}"
        print(f"  {entry.name:40s} {state}")
        print(f"      {entry.description}; needed for {entry.needed_for}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    unknown = [name for name in args.names if name not in WEIGHTS]
    if unknown:
        from ..errors import InputError

        raise InputError(f"unknown weight file(s) {unknown}; known: {', '.join(WEIGHTS)}")
    for path in download(args.names or None, args.weights_dir):
        print(f"ok  {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    failed = False
    for result in verify(args.weights_dir):
        print(f"{result.status:8s} {result.name}  {result.detail}".rstrip())
        failed |= result.status == "failed"
    return 1 if failed else 0
