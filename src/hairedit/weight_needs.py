"""Which pretrained files edits use: the registry's entries (files and what uses them) read
against a configuration. The weights package knows files; what an edit runs is known here."""

from __future__ import annotations

from .config import LOOPS, EditConfig
from .strategies import strategy_for
from .weights.registry import LAMA_FILE, WEIGHTS, WeightFile


def loops_run(config: EditConfig) -> set[str]:
    """The optimisation loops (names of ``config.LOOPS``) an edit with ``config`` may run: those
    with steps, less those whose work the preset's way does otherwise (the instant preset's
    encoder and mapper)."""
    steps = {loop for loop, (section, name) in LOOPS.items() if getattr(getattr(config, section), name) > 0}
    return steps - strategy_for(config).replaces_loops


def uses(entry: WeightFile, preset: str | EditConfig) -> bool:
    """Whether an edit with ``preset`` (a preset's name, for its own settings, or a whole
    configuration) uses ``entry`` where present, the optional ones too. A file only loops use
    is not used where none of them runs: the instant preset, unless its settings add such steps."""
    config = preset if isinstance(preset, EditConfig) else EditConfig.for_preset(preset)
    if entry.group not in ("edit", config.preset):
        return False
    if entry.name == LAMA_FILE and config.whole_photo.inpaint != "lama":
        return False  # the whole-photo step fills with OpenCV, or not at all
    return not entry.loops or any(loop in loops_run(config) for loop in entry.loops)


def files_used(preset: str | EditConfig) -> list[str]:
    """The names of the files an edit with ``preset`` uses where present, in the registry's order."""
    return [name for name, entry in WEIGHTS.items() if uses(entry, preset)]


def files_needed(preset: str | EditConfig) -> list[str]:
    """The names of the files an edit with ``preset`` cannot do without, in the registry's order."""
    return [name for name, entry in WEIGHTS.items() if entry.required and uses(entry, preset)]
