"""How each batch worker builds its editor: one :class:`EditorSpec`, sent to every worker
(a process, a Ray actor), which loads its own networks once and keeps them for all its rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import EditConfig


@dataclass(frozen=True)
class EditorSpec:
    """The networks and settings of a batch.

    ``smoke``: small random networks (``--smoke``), else the pretrained ones from
    ``weights_dir`` (default ``$HAIREDIT_HOME`` or ``~/.cache/hairedit`` on each machine).
    Either way inversions are cached beside the weights, so that a photo edited several
    times is inverted once on each machine.
    ``cpu_threads``: torch's threads in each worker. A CPU's sums come out differently with
    different thread counts, so a batch's bytes do not depend on how its rows are spread
    (one worker, processes, Ray actors) only because every worker uses this same count.
    """

    config: EditConfig = field(default_factory=EditConfig)
    smoke: bool = False
    weights_dir: str | None = None
    cpu_threads: int = 1
    previews_px: int = 0  # stage updates carry a JPEG preview this size at most (hairedit serve's events); 0: none

    def config_for(self, settings: dict | None) -> EditConfig:
        """The settings of a row: the batch's, or the row's own ``config`` (a JSON object of
        settings read as ``--config`` reads one, with --smoke's step cap), which replaces them."""
        if settings is None:
            return self.config
        from ..commands import config_of

        return config_of(settings, smoke=self.smoke, source="config")

    def with_absolute_paths(self) -> EditorSpec:
        """``weights_dir`` made absolute here, on the driver: workers (Ray actors) run in
        folders of their own, where a relative path would name another folder."""
        if self.weights_dir is None:
            return self
        return replace(self, weights_dir=str(Path(self.weights_dir).expanduser().absolute()))

    def build(self, device: str | None = None):
        """A HairEditor on ``device`` (None: the best available). Networks load on its first edit."""
        from ..commands import smoke_editor
        from ..pipeline import HairEditor

        if self.smoke:
            return smoke_editor(device, self.config, self.weights_dir)
        return HairEditor.from_pretrained(self.weights_dir, device, self.config)
