"""Writes instant_smoke.npz: instant edits on the smoke networks as they came out before the
instant preset's speed work (issue 21), which must leave them as they are.

Computed at commit ca378fa (before that work) with
    PYTHONPATH=<that commit's src> python3 tests/golden/instant_smoke.py
Each edit's aligned crop after, area-averaged to 64 px (its detail is the 64 px generator's).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data

EDITS = {  # name -> conditions (the photo mirrored is the reference photo; the mask paints hair everywhere)
    "text+rgb": {"hairstyle": "bob cut hairstyle", "rgb": (212, 163, 115)},
    "sketch": {"sketch": "strokes"},
    "colour-text": {"color": "blond hair"},
    "reference+mask+rgb": {"hairstyle_ref": "mirror", "mask": "all hair", "rgb": "crimson"},
    "text+sketch+colour-reference": {"hairstyle": "long hair", "sketch": "strokes", "color_ref": "mirror"},
}
SEED = 5
SUMMARY_PX = 64


def conditions(name: str) -> dict:
    from hairedit.samples import sample_sketch
    from hairedit.labels import HAIR

    photo = data.astronaut()
    values = {"mirror": np.ascontiguousarray(photo[:, ::-1]), "strokes": sample_sketch(),
              "all hair": np.full((512, 512), HAIR, np.uint8)}
    return {key: values.get(value, value) if isinstance(value, str) else value for key, value in EDITS[name].items()}


def summary(crop) -> np.ndarray:
    """The crop (H, W, 3) uint8 area-averaged to SUMMARY_PX, float32."""
    pixels = torch.from_numpy(np.asarray(crop).astype(np.float32)).permute(2, 0, 1)[None]
    return F.interpolate(pixels, size=(SUMMARY_PX, SUMMARY_PX), mode="area")[0].permute(1, 2, 0).numpy()


# The smoke networks' seed when these were computed (--smoke has used another since, issue 23):
# the networks must be the same ones for the outputs to be comparable.
NETWORK_SEED = 3


def smoke_editor():
    from hairedit import EditConfig, HairEditor

    return HairEditor.from_random(seed=NETWORK_SEED, config=EditConfig.smoke(2, "instant"))


if __name__ == "__main__":
    editor = smoke_editor()
    crops = {name: summary(editor.edit(data.astronaut(), seed=SEED, progress=False, **conditions(name)).crop_after)
             for name in EDITS}
    np.savez_compressed(Path(__file__).with_name("instant_smoke.npz"), **crops)
