"""The page's generated HTML: stage progress, messages, the pretrained files' download.

Every message a user sees is written here or is a HaireditError's own text; an exception
that is not one (a bug, a network library's error) never reaches the page, only the terminal.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..errors import CheckpointError, DownloadError, HaireditError, MissingWeightsError
from ..progress import Progress
from ..weights.download import missing_files_summary
from ..weights.progress import DownloadProgress
from ..weights.registry import WeightFile

CSS = """
.stage-list { list-style: none; padding: 0; margin: 0; }
.stage-list li { display: grid; grid-template-columns: 11em 1fr 6em; gap: .5em; align-items: center; }
.stage-list progress, .download progress { width: 100%; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #888; vertical-align: middle; }
.message { border-left: 4px solid #e8a33d; padding: .3em .6em; margin: .3em 0; background: rgba(232, 163, 61, .1); }
.message.error { border-color: #d9534f; background: rgba(217, 83, 79, .1); }
"""

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
    fault: they get their own title and advice (a download's raw errors stay in the terminal)."""
    if isinstance(error, MissingWeightsError):  # it says which, how large, and how to get them
        return message("Pretrained files are missing:", str(error))
    if isinstance(error, (DownloadError, CheckpointError)):
        return message("A pretrained file is missing or damaged:", DAMAGED_WEIGHTS)
    return message(title, str(error))


def missing_summary(missing: list[WeightFile]) -> str:
    return (
        f"<p><b>The pretrained networks are not here yet.</b> {html.escape(missing_files_summary(missing))} "
        "Download them once; they are kept for next time.</p>"
    )


def download_progress(progress: DownloadProgress | None, running: bool, failed: bool) -> str:
    """Where the download stands: the file being fetched, and every file together."""
    if failed:
        return message(
            "The download failed.",
            "The terminal that runs `hairedit ui` lists every source tried; try again, or run "
            "`hairedit weights download` there.", "error",
        )
    if not running:
        return "<p><b>All pretrained files are here.</b> Upload a photo to start.</p>"
    if progress is None:
        return "<p><b>Downloading…</b></p>"
    rows = [
        (f"file {progress.file_index} of {progress.file_count}: {progress.name}", progress.file_bytes,
         progress.file_total_bytes),
        ("all files", progress.done_bytes, progress.total_bytes),
    ]
    items = "".join(
        f"<li><span>{html.escape(what)}</span>"
        + (f"<progress value='{done}' max='{total}'></progress>" if total else "<progress></progress>")
        + f"<span>{_megabytes(done)}{f' of {_megabytes(total)}' if total else ''}</span></li>"
        for what, done, total in rows
    )
    return f"<div class='download'><p><b>Downloading…</b></p><ul class='stage-list'>{items}</ul></div>"


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:,.1f} MB"
