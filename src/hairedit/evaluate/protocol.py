"""HairFastGAN's realism protocol on a folder of photos (``hairedit eval --protocol hairfast``).

Each photo gets the hairstyle of another photo of the set and the colour of a third (a seeded
pairing), and, as the reconstruction case, its own hairstyle and colour. The transfer edits'
FID and FID_CLIP against the unedited set, and the reconstruction's LPIPS and PSNR, go in one
table with the numbers HairFastGAN's paper published (docs/eval.md says how each is computed
and where the protocol differs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..batch.manifest import BatchRow, folder_photos
from ..errors import InputError
from ..seeding import stream
from .compare import row_name
from .sets import Interval, SetInterval

TRANSFER = "transfer"
RECONSTRUCTION = "reconstruction"
CASES = (TRANSFER, RECONSTRUCTION)
PAIRING_STREAM = "hairfast pairing"
# The per-edit metrics the protocol reports (besides FID and FID_CLIP of both cases).
RECONSTRUCTION_METRICS = ("lpips_crop", "psnr_crop")
TABLE_TITLE = "HairFastGAN's protocol, with the published numbers"
TABLE_HEADER = ["method", "case", "images", "FID ↓", "FID_CLIP ↓", "LPIPS ↓", "PSNR ↑"]


@dataclass(frozen=True)
class Published:
    """A row of HairFastGAN's realism table (Nikolaev et al. 2024): random hairstyle and colour
    transfer on CelebA-HQ, measured against the unedited images."""

    method: str
    fid: float
    fid_clip: float


PUBLISHED = (Published("HairFastGAN (paper)", 13.12, 5.12), Published("HairCLIPv2 (paper)", 14.28, 10.98))
PUBLISHED_IMAGES = "CelebA-HQ (paper)"


@dataclass(frozen=True)
class Pairing:
    """Photo ``photo`` gets the hairstyle of ``hairstyle`` and the colour of ``color``."""

    photo: Path
    hairstyle: Path
    color: Path


def pair_photos(photos: Sequence[Path], seed: int) -> list[Pairing]:
    """Each photo with the hairstyle of another photo and the colour of a third, drawn from the
    stream ``PAIRING_STREAM`` of ``seed`` (the same photos and seed, the same pairing). With two
    photos the colour comes from the same other photo as the hairstyle."""
    if len(photos) < 2:
        raise InputError("--protocol hairfast needs at least two photos: each takes its hairstyle from another.")
    generator = stream(seed, PAIRING_STREAM)
    pairings = []
    for index, photo in enumerate(photos):
        others = [other for other in range(len(photos)) if other != index]
        hairstyle = others[_draw(len(others), generator)]
        thirds = [other for other in others if other != hairstyle] or others
        color = thirds[_draw(len(thirds), generator)]
        pairings.append(Pairing(photo, photos[hairstyle], photos[color]))
    return pairings


def _draw(count: int, generator: torch.Generator) -> int:
    return int(torch.randint(count, (1,), generator=generator))


def protocol_rows(folder: str | Path, seed: int) -> tuple[list[BatchRow], dict[str, str]]:
    """The edits of the protocol on the photos in ``folder``: each photo's transfer, then its
    reconstruction (hairstyle and colour from itself); and each row's report name -> its case."""
    rows, cases = [], {}
    for pairing in pair_photos(folder_photos(folder), seed):
        for case, hairstyle, color in ((TRANSFER, pairing.hairstyle, pairing.color),
                                       (RECONSTRUCTION, pairing.photo, pairing.photo)):
            row = BatchRow(str(pairing.photo), {"hairstyle_ref": str(hairstyle), "color_ref": str(color)},
                           output=f"{pairing.photo.stem}_{case}.png", origin=str(pairing.photo))
            cases[row_name(row, len(rows))] = case
            rows.append(row)
    return rows, cases


def group_name(preset: str, case: str) -> str:
    return f"{preset} / {case}"


def regrouped(item, cases: dict[str, str]):
    """A Measured or Failure of the comparison, grouped by preset and case."""
    return replace(item, preset=group_name(item.preset, cases[item.name]))


def protocol_table(summaries: dict[str, dict], presets: Sequence[str], edits: dict[str, int]) -> list[list[str]]:
    """The published rows, then each preset's transfer and reconstruction rows (``TABLE_HEADER``);
    ``edits``: group -> how many edits it measured. FID and FID_CLIP of a case are of its edits
    against the same photos unedited; LPIPS and PSNR are reported for the reconstruction only."""
    rows = [[entry.method, TRANSFER, PUBLISHED_IMAGES, f"{entry.fid:.2f}", f"{entry.fid_clip:.2f}", "–", "–"]
            for entry in PUBLISHED]
    for preset in presets:
        for case in CASES:
            group = group_name(preset, case)
            summary = summaries.get(group, {})
            measured = case == RECONSTRUCTION
            pixels = [_cell(summary.get(name)) if measured else "–" for name in RECONSTRUCTION_METRICS]
            rows.append([f"hairedit {preset}", case, f"{edits.get(group, 0)} photos",
                         _cell(summary.get("fid")), _cell(summary.get("fid_clip")), *pixels])
    return rows


def _cell(value: Interval | SetInterval | None) -> str:
    if isinstance(value, SetInterval):
        number = value.value
    elif isinstance(value, Interval):
        number = value.mean
    else:
        return "–"
    return "–" if math.isnan(number) else f"{number:.2f}" if math.isfinite(number) else "inf"
