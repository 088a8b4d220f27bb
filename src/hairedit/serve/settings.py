"""What ``hairedit serve``'s options set, in one frozen dataclass the app and the scheduler share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..batch.editor import EditorSpec

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def default_folder() -> Path:
    """``serve/`` under the hairedit home ($HAIREDIT_HOME or ~/.cache/hairedit)."""
    from ..weights.registry import weights_dir

    return weights_dir() / "serve"


@dataclass(frozen=True)
class ServeSettings:
    data_dir: Path  # the job database and the jobs' folders
    editor: EditorSpec = field(default_factory=EditorSpec)
    workers: int = 1  # worker processes (Ray actors with ``ray``)
    devices: tuple[str, ...] = ()  # one worker per device, e.g. ("cuda:0", "cuda:1")
    ray: str | None = None  # a Ray address ("local": start one here)
    keep_hours: float = 24.0  # finished jobs' files are kept this long
    power_safe: bool = False  # each commit waits for the disk: jobs survive a power cut, not only a kill
    max_upload_bytes: int = 25 * 1024 * 1024
    max_queue: int = 1000  # queued jobs in all; beyond it submissions get 503 and /readyz fails
    max_queued_per_key: int = 100  # queued or running jobs of one key; beyond it 429
    submissions_per_minute: int = 60  # per key; beyond it 429
    keys_file: Path | None = None  # None: no authentication
    cors_origins: tuple[str, ...] = ()

    @property
    def auth(self) -> bool:
        return self.keys_file is not None
