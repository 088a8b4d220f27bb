"""Which pretrained files edits use: the registry's entries (files and what uses them) read
against a configuration and, where known, the conditions an edit is given. The weights
package knows files; what an edit runs is known here. The one answer for edit, batch, eval,
the UI's download offer and `hairedit weights list --for`."""

from __future__ import annotations

from collections.abc import Iterable

from .config import LOOPS, EditConfig
from .strategies import strategy_for
from .weights.registry import COLOURS, LAMA_FILE, WEIGHTS, WeightFile

# The conditions (edit's option names) that make a loop run; the inversion's run in every edit.
LOOP_CONDITIONS = {"text proxy": ("hairstyle",), "reference proxy": ("hairstyle_ref",), "colour proxy": COLOURS,
                   "colour blending": COLOURS}


def loops_run(config: EditConfig, conditions: Iterable[str] | None = None) -> set[str]:
    """The optimisation loops (names of ``config.LOOPS``) an edit with ``config`` given
    ``conditions`` (None: any edit) runs: those with steps and a condition that drives them,
    less those whose work the preset's way does otherwise (the instant preset's encoder and
    mapper)."""
    steps = {loop for loop, (section, name) in LOOPS.items() if getattr(getattr(config, section), name) > 0}
    if conditions is not None:
        given = set(conditions)
        steps = {loop for loop in steps if loop not in LOOP_CONDITIONS or given & set(LOOP_CONDITIONS[loop])}
    return steps - strategy_for(config).replaces_loops


def uses(entry: WeightFile, preset: str | EditConfig, conditions: Iterable[str] | None = None) -> bool:
    """Whether an edit with ``preset`` (a preset's name, for its own settings, or a whole
    configuration) given ``conditions`` (None: any edit) uses ``entry`` where present, the
    optional ones too. A file only loops use is not used where none of them runs (the instant
    preset, unless its settings add such steps; a colour-only edit's hairstyle loops); a file
    only some conditions use, not without them (the bald proxy without a hairstyle)."""
    config = preset if isinstance(preset, EditConfig) else EditConfig.for_preset(preset)
    conditions = None if conditions is None else set(conditions)
    if entry.used_with:
        return any(uses(WEIGHTS[name], config, conditions) for name in entry.used_with)
    if entry.group not in ("edit", config.preset):
        return False
    if entry.name == LAMA_FILE and config.whole_photo.inpaint != "lama":
        return False  # the whole-photo step fills with OpenCV, or not at all
    if conditions is not None and entry.conditions and not conditions & set(entry.conditions):
        return False
    if conditions is not None and "hairclip" in entry.networks:  # the conditions its mapper takes
        return bool(conditions & strategy_for(config).mapper_conditions(config))
    return not entry.loops or any(loop in loops_run(config, conditions) for loop in entry.loops)


def files_used(preset: str | EditConfig, conditions: Iterable[str] | None = None) -> list[str]:
    """The names of the files an edit with ``preset`` (and ``conditions``; None: any) uses where
    present, in the registry's order."""
    return [name for name, entry in WEIGHTS.items() if uses(entry, preset, conditions)]


def files_needed(preset: str | EditConfig, conditions: Iterable[str] | None = None) -> list[str]:
    """The names of the files an edit with ``preset`` (and ``conditions``; None: any) cannot do
    without, in the registry's order."""
    return [name for name, entry in WEIGHTS.items() if entry.required and uses(entry, preset, conditions)]
