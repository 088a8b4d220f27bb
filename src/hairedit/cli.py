"""The ``hairedit`` command. Each subcommand lives beside the stage it drives.

A :class:`~hairedit.errors.HaireditError` is printed as one line and exits 2; ``--debug``
shows the traceback instead, and every message of the ``hairedit`` logger (warnings only
without it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator

from .allocator import keep_freed_memory
from .errors import EditInterrupted, HaireditError

# Modules that each define ``register(subparsers)``; imported lazily so that
# `hairedit weights list` does not pay for loading gradio.
_COMMAND_MODULES = {
    "edit": "hairedit.commands",
    "demo": "hairedit.demo",
    "doctor": "hairedit.demo",
    "align": "hairedit.face.commands",
    "weights": "hairedit.weights.commands",
    "ui": "hairedit.ui",
    "bench": "hairedit.demo",
    "cache": "hairedit.cache",
    "eval": "hairedit.evaluate.commands",
    "batch": "hairedit.batch.command",
    "serve": "hairedit.serve.command",
}

_SUMMARIES = {
    "edit": "edit the hair in a photo",
    "demo": "edit a sample portrait in several modes and write a before/after sheet",
    "doctor": "report torch, device and weights; --smoke runs every mode end to end",
    "align": "detect faces and write the FFHQ-aligned 1024 px crops with their transforms",
    "weights": "list, download or verify the pretrained files",
    "ui": "start the browser interface",
    "bench": "time the generator and each stage; print speed-up ratios",
    "cache": "list or clear the inversion cache",
    "eval": "measure edits (identity, preservation, agreement, FID); compare presets on your photos",
    "batch": "edit many photos: a manifest, a folder, or a folder x a catalogue of styles; resumable",
    "serve": "an HTTP API for apps: submit edits, follow them, fetch results; a durable queue",
}


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (not the usage first), pointing to --help.
    Subcommands' parsers are of the same class."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="hairedit", description="Change only the hair in a photo (HairCLIPv2).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    modules: dict[str, list[str]] = {}
    for name, module_name in _COMMAND_MODULES.items():
        modules.setdefault(module_name, []).append(name)
    for module_name, names in modules.items():
        if command in names:
            importlib.import_module(module_name).register(subparsers)
        else:
            # Commands not asked for get a placeholder, so `--help` lists them without importing them.
            for name in names:
                subparsers.add_parser(name, help=_SUMMARIES[name], add_help=False)
    for subparser in _all_parsers(subparsers):
        # `hairedit edit ... --debug` as well as `hairedit --debug edit ...`; SUPPRESS keeps the
        # subcommand's default from overwriting a --debug given before it.
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return parser


def _all_parsers(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones (``weights list``) included."""
    found = []
    for parser in subparsers.choices.values():
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += _all_parsers(action)
    return found


def _command_of(argv: list[str]) -> str | None:
    for arg in argv:
        if arg in _COMMAND_MODULES:
            return arg
        if not arg.startswith("-"):
            return None
    return None


@contextlib.contextmanager
def logging_to_stderr(debug: bool) -> Iterator[None]:
    """The ``hairedit`` logger on stderr while a command runs: everything with ``--debug``,
    else warnings only."""
    logger = logging.getLogger("hairedit")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hairedit: %(levelname)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    with logging_to_stderr(debug):
        try:
            keep_freed_memory()  # before torch starts its threads: every edit's renders reuse memory
            # Building the parser imports the command's module: an old library is refused there.
            args = build_parser(_command_of(argv)).parse_args(argv)
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("hairedit: interrupted; nothing was written.", file=sys.stderr)
            return 130
        except EditInterrupted as error:
            print(f"hairedit: {error}", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # Whoever read the output went away (`hairedit weights list | head`): stop quietly,
            # and let nothing more be written to the closed pipe when Python exits.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except HaireditError as error:
            if debug:
                raise
            print(f"hairedit: error: {error}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
