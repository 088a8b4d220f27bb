"""The oldest versions of the libraries hairedit works with, and a check that says so.

pyproject.toml states the same floors (a test keeps the two equal). The check reads installed
versions from package metadata, without importing anything, and runs where a library is
first needed: an old library then gives one clear line instead of a deep AttributeError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

from .errors import RequirementError


@dataclass(frozen=True)
class Requirement:
    distribution: str  # the name pip knows
    minimum: str
    reason: str  # what hairedit uses that older versions lack


REQUIREMENTS: dict[str, Requirement] = {
    requirement.distribution: requirement
    for requirement in (
        Requirement(
            "torch", "2.7",
            "torch.serialization.safe_globals (2.5) and torch._dynamo.config.recompile_limit (2.7)",
        ),
        Requirement("numpy", "1.25", "numpy.dtypes"),
        Requirement("pillow", "10.0", "ImageOps.exif_transpose(in_place=True)"),
        Requirement(
            "gradio", "6.24",
            "launch(run_history=, footer_links=, css=) (6.24), the components' buttons= and gr.ImageSlider (6.0)",
        ),
        Requirement("transformers", "4.40", "CLIPModel and CLIPTokenizer as hairedit builds them"),
        Requirement("gdown", "6.0", "gdown.download(progress=), for download progress from Google Drive"),
    )
}


def version_tuple(version: str) -> tuple[int, ...]:
    """'2.13.0+cpu' -> (2, 13, 0); a pre-release counts as its release ('2.7.0rc1' -> (2, 7, 0))."""
    numbers = re.match(r"\d+(\.\d+)*", version.strip())
    return tuple(int(part) for part in numbers.group(0).split(".")) if numbers else ()


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def require(*distributions: str) -> None:
    """Raise RequirementError naming every listed library that is missing or too old."""
    problems, outdated = [], []
    for name in distributions:
        requirement = REQUIREMENTS[name]
        found = installed_version(name)
        if found is not None and version_tuple(found) >= version_tuple(requirement.minimum):
            continue
        have = f"this environment has {name} {found}" if found else f"{name} is not installed"
        problems.append(f"{name} >= {requirement.minimum} (for {requirement.reason}); {have}")
        outdated.append(f"'{name}>={requirement.minimum}'")
    if problems:
        upgrade = " ".join(outdated)
        raise RequirementError(
            "hairedit needs " + "; and ".join(problems) + f". Upgrade with: pip install -U {upgrade}"
        )
