"""``hairedit serve``: the HTTP API (docs/serve.md); ``hairedit serve keys add NAME``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..commands import SMOKE_NOTICE, add_editor_options, check_weights_present, read_config
from ..devices import resolve_device
from ..errors import InputError
from .settings import LOOPBACK_HOSTS, ServeSettings, default_folder

SUMMARY = "an HTTP API for apps: submit edits, follow them, fetch results; a durable queue"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help=SUMMARY, description=(
        "Serve hair edits over HTTP (OpenAPI docs at /docs). Jobs and their inputs live in a SQLite database and "
        "a folder beside it, so a restart loses nothing. Off loopback, API keys (--keys-file) or --no-auth are "
        "required. See docs/serve.md."))
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                                                            "machine only)")
    parser.add_argument("--port", type=int, default=8000, help="default 8000")
    parser.add_argument("--data-dir", type=Path, help="the job database and files (default: serve/data under the "
                                                      "hairedit home)")
    parser.add_argument("--keep-hours", type=float, default=24.0, help="finished jobs' files are kept this long "
                                                                       "(default 24)")
    parser.add_argument("--power-safe", action="store_true", help=(
        "wait for the disk at every commit, so that queued jobs survive a power cut (a kill never loses them)"))
    parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="worker processes, each with the networks loaded (with --ray: actors; default 1)")
    parser.add_argument("--devices", metavar="LIST", help="one worker per device, e.g. cuda:0,cuda:1")
    parser.add_argument("--threads", type=_positive, default=1, metavar="N",
                        help="torch threads per worker (default 1, as hairedit batch)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the edits on Ray actors, as hairedit batch --ray: "
                                                         "'local', 'auto' or an address")
    parser.add_argument("--keys-file", type=Path, help="API keys (`hairedit serve keys add NAME` writes them); "
                                                       "default serve/keys.txt under the hairedit home when it exists")
    parser.add_argument("--no-auth", action="store_true", help="serve without API keys, even off loopback")
    parser.add_argument("--rate-limit", type=_positive, default=60, metavar="N",
                        help="submissions a minute per key (default 60)")
    parser.add_argument("--max-queued-per-key", type=_positive, default=100, metavar="N",
                        help="edits one key may have queued or running (default 100)")
    parser.add_argument("--max-queue", type=_positive, default=1000, metavar="N",
                        help="queued edits in all; beyond it submissions get 503 (default 1000)")
    parser.add_argument("--max-upload-mb", type=float, default=25.0, help="the largest request (default 25)")
    parser.add_argument("--previews-px", type=int, default=128, metavar="PX",
                        help="events carry JPEG previews this size at most (default 128; 0: none, a little faster)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="let pages from ORIGIN call the API (repeatable; CORS is off by default)")
    add_editor_options(parser)
    parser.set_defaults(func=run)

    commands = parser.add_subparsers(dest="serve_command", metavar="keys")
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", metavar="add")
    keys.required = True
    add = keys.add_parser("add", help="make a key for NAME: printed once, its hash stored")
    add.add_argument("name", help="who the key is for (letters, digits, _ - . @)")
    add.add_argument("--keys-file", type=Path, help="default serve/keys.txt under the hairedit home")
    add.set_defaults(func=run_add_key)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def default_keys_file() -> Path:
    return default_folder() / "keys.txt"


def run_add_key(args: argparse.Namespace) -> int:
    from .auth import add_key

    path = args.keys_file or default_keys_file()
    key = add_key(path, args.name)
    print(key)
    print(f"hairedit: stored the hash of {args.name}'s key in {path}; the key is shown only now.", file=sys.stderr)
    return 0


def settings_of(args: argparse.Namespace) -> ServeSettings:
    """The settings the options ask for, checked before anything starts."""
    from ..batch.editor import EditorSpec

    keys_file = _keys_file(args)
    if args.host not in LOOPBACK_HOSTS and keys_file is None and not args.no_auth:
        raise InputError(f"--host {args.host} is reachable from other machines: give API keys (--keys-file; make "
                         "one with `hairedit serve keys add NAME`) or pass --no-auth explicitly.")
    if args.ray is not None and (args.devices or args.device):
        raise InputError("on Ray each actor gets its own GPU; --device and --devices are for this machine.")
    devices = tuple(name.strip() for name in (args.devices or args.device or "").split(",") if name.strip())
    for name in devices:
        resolve_device(name)
    if args.max_upload_mb <= 0:
        raise InputError("--max-upload-mb must be more than 0.")
    if args.previews_px < 0:
        raise InputError("--previews-px must be 0 (no previews) or more.")
    editor = EditorSpec(read_config(args), args.smoke, None if args.weights_dir is None else str(args.weights_dir),
                        args.threads, args.previews_px)
    if not args.smoke:
        check_weights_present(args.weights_dir, editor.config)
    return ServeSettings(
        data_dir=(args.data_dir or default_folder() / "data").expanduser().absolute(), editor=editor,
        workers=args.workers, devices=devices, ray=args.ray, keep_hours=args.keep_hours, power_safe=args.power_safe,
        max_upload_bytes=int(args.max_upload_mb * 2 ** 20), max_queue=args.max_queue,
        max_queued_per_key=args.max_queued_per_key, submissions_per_minute=args.rate_limit, keys_file=keys_file,
        cors_origins=tuple(args.cors_origin),
    )


def _keys_file(args: argparse.Namespace) -> Path | None:
    if args.no_auth:
        if args.keys_file is not None:
            raise InputError("--no-auth and --keys-file contradict each other; choose one.")
        return None
    if args.keys_file is not None:
        if not args.keys_file.is_file():
            raise InputError(f"--keys-file {args.keys_file}: no such file; make one with `hairedit serve keys add "
                             f"NAME --keys-file {args.keys_file}`.")
        return args.keys_file
    default = default_keys_file()
    return default if default.is_file() else None


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    import uvicorn  # only now: --help and argument errors stay light

    from .app import create_app

    app = create_app(settings)
    access = "API keys from " + str(settings.keys_file) if settings.auth else "no API keys"
    print(f"hairedit serve: http://{_url_host(args.host)}:{args.port} (docs at /docs), {access}, "
          f"data in {settings.data_dir}", file=sys.stderr, flush=True)
    if args.smoke:
        print(f"hairedit: {SMOKE_NOTICE}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
