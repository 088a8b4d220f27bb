"""The page's generated HTML: stage progress, messages, the pretrained files' download.

Every message a user sees is written here or is a HaireditError's own text; an exception
that is not one (a bug, a network library's error) never reaches the page, only the terminal.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..errors import CheckpointError, DownloadError, HaireditError, MissingWeightsError
from ..progress import Progress
from .weights import DownloadState, MissingFile

CSS = """
.stage-list { list-style: none; padding: 0; margin: 0; }
.stage-list li { display: grid; grid-template-columns: 11em 1fr 5em; gap: .5em; align-items: center; }
.stage-list progress, .download progress { width: 100%; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #888; vertical-align: middle; }
.message { border-left: 4px solid #e8a33d; padding: .3em .6em; margin: .3em 0; background: rgba(232, 163, 61, .1); }
.message.error { border-color: #d9534f; background: rgba(217, 83, 79, .1); }
"""

MISSING_WEIGHTS = "download them with the button at the top of the page (or run `hairedit weights download`)."
DAMAGED_WEIGHTS = "run `hairedit weights verify` in a terminal: it names the file and what is wrong with it."
BUG = "Something went wrong inside hairedit: the terminal that runs `hairedit ui` shows the details."


@dataclass
class StageBoard:
    """The stages an edit has reported so far, rendered as one progress bar each."""

    stages: dict[str, tuple[int, int]] = field(default_factory=dict)

    def update(self, progress: Progress) -> None:
        self.stages[progress.stage] = (progress.step, progress.total)

    def render(self, headline: str) -> str:
        rows = [
            f"<li><span>{html.escape(stage)}</span><progress value='{step}' max='{total}'></progress>"
            f"<span>{step}/{total}</span></li>"
            for stage, (step, total) in self.stages.items()
        ]
        return f"<p><b>{html.escape(headline)}</b></p><ul class='stage-list'>{''.join(rows)}</ul>"


def message(title: str, text: str, kind: str = "warning") -> str:
    """One message for the message area: a bold title, then what to do."""
    return f"<div class='message {kind}'><b>{html.escape(title)}</b> {html.escape(text)}</div>"


def problem(title: str, error: HaireditError) -> str:
    """A HaireditError as a message. Missing and damaged pretrained files are not the photo's
    fault: they get their own title and advice (the raw download errors stay in the terminal)."""
    if isinstance(error, MissingWeightsError):
        return message("Pretrained files are missing:", MISSING_WEIGHTS)
    if isinstance(error, (DownloadError, CheckpointError)):
        return message("A pretrained file is missing or damaged:", DAMAGED_WEIGHTS)
    return message(title, str(error))


def _megabytes(size_bytes: int) -> str:
    if size_bytes < 1e6:
        return f"{size_bytes / 1e3:,.0f} kB"
    return f"{size_bytes / 1e6:,.1f} MB" if size_bytes < 1e7 else f"{size_bytes / 1e6:,.0f} MB"


def missing_summary(files: list[MissingFile]) -> str:
    known = sum(file.size_bytes or 0 for file in files)
    unknown = sum(file.size_bytes is None for file in files)
    size = _megabytes(known) if known else ""
    if unknown:
        size += (" and " if size else "") + f"{unknown} of unknown size"
    names = ", ".join(file.name for file in files)
    return (
        f"<p><b>The pretrained networks are not here yet.</b> Edits need {len(files)} more file(s) "
        f"({html.escape(size)}): {html.escape(names)}. Download them once; they are kept for next time.</p>"
    )


def download_progress(state: DownloadState, running: bool) -> str:
    """A bar per file and one in total (bytes where the sizes are known)."""
    if not running and state.failed:
        return message(
            "The download failed.",
            "The terminal that runs `hairedit ui` lists every source tried; try again, or run "
            "`hairedit weights download` there.", "error",
        )
    if not running:
        return "<p><b>All pretrained files are here.</b> Upload a photo to start.</p>"
    rows = []
    for file in state.files:
        done = state.bytes_done.get(file.name, 0)
        if file.size_bytes:
            bar = f"<progress value='{done}' max='{file.size_bytes}'></progress>"
            amount = f"{_megabytes(done)} of {_megabytes(file.size_bytes)}"
        else:  # size unknown: a moving bar while it downloads
            bar = "<progress></progress>" if file.name == state.current else ""
            amount = _megabytes(done)
        rows.append(f"<li><span>{html.escape(file.name)}</span>{bar}<span>{amount}</span></li>")
    total_done = sum(min(state.bytes_done.get(f.name, 0), f.size_bytes or 0) for f in state.files)
    total = (
        f"<p>In total: <progress value='{total_done}' max='{state.total_bytes}'></progress> "
        f"{_megabytes(total_done)} of {_megabytes(state.total_bytes)}</p>" if state.total_bytes else ""
    )
    return f"<div class='download'><p><b>Downloading…</b></p>{total}<ul class='stage-list'>{''.join(rows)}</ul></div>"
