"""``hairedit ui``: its options, who may use the page, and serving it.

Importing this module loads neither Gradio nor torch, so ``hairedit ui --help`` stays quick.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import time
from pathlib import Path

from ..errors import InputError

AUTH_ENV = "HAIREDIT_UI_AUTH"
MAX_QUEUE = 8  # events (edits, uploads) that may wait; past it the page answers "busy"
AUTH_MESSAGE = "hairedit: log in with a user name and password given to `hairedit ui`."


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..commands import add_editor_options
    from .session import MAX_SESSIONS, SESSION_TTL_S

    ui = subparsers.add_parser(
        "ui", help="start the browser interface",
        description="Start the browser interface. It listens on this computer only unless --host says otherwise; "
                    "beyond it, a login is required.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network)")
    ui.add_argument("--port", type=int, default=7860, help="port to listen on")
    ui.add_argument("--max-upload-mb", type=float, default=25.0, help="largest file a user may upload")
    ui.add_argument("--concurrency", type=int, default=1, help="edits that may run at once; more wait in a queue")
    ui.add_argument("--max-queue", type=int, default=MAX_QUEUE,
                    help="requests that may wait in the queue; past it the page says it is busy")
    ui.add_argument("--no-live-preview", action="store_true",
                    help="no instant preview after each change (a server short of CPU); Refine still runs edits")
    ui.add_argument("--session-minutes", type=float, default=SESSION_TTL_S / 60,
                    help="an idle tab's photos and results are let go after this long")
    ui.add_argument("--max-sessions", type=int, default=MAX_SESSIONS,
                    help="tabs whose photos are held at once; past it the longest idle lets go")
    access = ui.add_argument_group("who may use the page (required beyond this computer)")
    access.add_argument("--auth", metavar="USER:PASSWORD", help=f"a login (or set ${AUTH_ENV}=USER:PASSWORD)")
    access.add_argument("--auth-file", type=Path, metavar="FILE", help="logins, one USER:PASSWORD a line")
    access.add_argument("--no-auth", action="store_true", help="serve beyond this computer without a login")
    add_editor_options(ui)
    ui.set_defaults(func=run_ui)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def logins(args: argparse.Namespace, environ: dict[str, str] = os.environ) -> list[tuple[str, str]] | None:
    """Who may log in: --auth, --auth-file and $HAIREDIT_UI_AUTH together; None: no login page.

    Beyond loopback a login is required unless --no-auth says otherwise.
    """
    pairs = []
    if args.auth is not None:
        pairs.append(_login(args.auth, "--auth"))
    if args.auth_file is not None:
        pairs += _read_logins(args.auth_file)
    if environ.get(AUTH_ENV):
        pairs.append(_login(environ[AUTH_ENV], f"${AUTH_ENV}"))
    if pairs and args.no_auth:
        raise InputError(f"--no-auth contradicts the logins given (--auth, --auth-file or ${AUTH_ENV}); drop one.")
    if not pairs and not args.no_auth and not is_loopback(args.host):
        raise InputError(
            f"--host {args.host} lets anyone who can reach this computer use the page: give a login with "
            f"--auth USER:PASSWORD, --auth-file FILE or ${AUTH_ENV}=USER:PASSWORD, or pass --no-auth to serve "
            "without one."
        )
    return pairs or None


def _login(text: str, where: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not colon or not user.strip() or not password:
        raise InputError(f"{where}: expected USER:PASSWORD, with a user name and a password.")
    return user.strip(), password


def _read_logins(path: Path) -> list[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--auth-file {path}: cannot read it ({error}).") from None
    pairs = [
        _login(line.strip(), f"{path}, line {number}")
        for number, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")
    ]
    if not pairs:
        raise InputError(f"--auth-file {path} holds no login; write one USER:PASSWORD a line.")
    return pairs


def _check_numbers(args: argparse.Namespace) -> None:
    for option, value, least in (("--concurrency", args.concurrency, 1), ("--max-queue", args.max_queue, 1),
                                 ("--max-sessions", args.max_sessions, 1)):
        if value < least:
            raise InputError(f"{option} must be at least {least}. Got {value}")
    for option, value in (("--max-upload-mb", args.max_upload_mb), ("--session-minutes", args.session_minutes)):
        if value <= 0:
            raise InputError(f"{option} must be positive. Got {value}")


def create_app(args: argparse.Namespace):
    """The HairEditApp the options ask for. Missing pretrained files are offered for download in the page."""
    from ..commands import build_editor
    from ..weights.download import missing_files_summary
    from ..weights.registry import weights_dir
    from .handlers import HairEditApp
    from .session import SessionStore
    from .weights import WeightsDownload

    editor = build_editor(args, download=False)  # a missing file is a message in the page, not a silent download
    weights = None if args.smoke else WeightsDownload(weights_dir(args.weights_dir), editor.config)
    if weights is not None and (missing := weights.missing()):
        print(f"hairedit: {missing_files_summary(missing)} The page offers to download them.", file=sys.stderr)
    sessions = SessionStore(args.session_minutes * 60, args.max_sessions)
    return HairEditApp(editor, args.smoke, preset=args.preset, seed=args.seed, sessions=sessions, weights=weights,
                       live_previews=not args.no_live_preview)


def run_ui(args: argparse.Namespace) -> int:
    _check_numbers(args)
    auth = logins(args)  # before Gradio or torch is imported: an exposed page without a login never starts
    from .layout import build_app

    app = create_app(args)
    # Stopped by a service manager (SIGTERM) as by Ctrl+C: the clean-up still runs.
    signal.signal(signal.SIGTERM, _exit)
    if not is_loopback(args.host):
        who = "anyone with a login" if auth else "anyone who can reach it (--no-auth)"
        print(f"hairedit: listening on {args.host}: {who} can use the page. Logins cross the network "
              "unencrypted unless HTTPS is put in front.", file=sys.stderr)
    launch(app, build_app(app, args.concurrency), args.host, args.port, args.max_upload_mb, auth=auth,
           max_queue=args.max_queue)
    return 0


def _exit(signum, frame) -> None:
    raise SystemExit(0)


def launch(app, page, host: str, port: int, max_upload_mb: float, block: bool = True,
           auth: list[tuple[str, str]] | None = None, max_queue: int = MAX_QUEUE) -> str:
    """Serve ``page``; returns its URL (at once when not ``block``, else once stopped by Ctrl+C)."""
    from .render import CSS

    page.queue(default_concurrency_limit=1, api_open=False, max_size=max_queue)
    try:
        _, url, _ = page.launch(
            server_name=host, server_port=port, share=False, inbrowser=False, show_error=False,
            auth=auth, auth_message=AUTH_MESSAGE, max_file_size=int(max_upload_mb * 1024 * 1024),
            allowed_paths=[str(app.sessions.output_dir)], state_session_capacity=4 * app.sessions.max_sessions,
            footer_links=[], run_history=False, enable_monitoring=False, mcp_server=False, ssr_mode=False,
            pwa=False, prevent_thread_lock=True, quiet=True, css=CSS,
        )
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port} ({error}); choose another --port.") from error
    app.sessions.start_sweeping()
    print(f"hairedit: the page is at {url} (Ctrl+C stops it)", flush=True)
    if block:
        try:
            while page.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            page.close()
            app.close()
    return url
