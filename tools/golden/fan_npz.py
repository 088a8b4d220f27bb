"""tests/golden/fan.npz from face-alignment 1.5.0's FAN, called as HairCLIPv2 calls it.

    python tools/golden/fan_npz.py FACE_ALIGNMENT_1_5_0_PACKAGE_FOLDER OUT.npz

The folder is the installed ``face_alignment`` package (``pip install face-alignment==1.5.0
--no-deps``); only its ``models/fan.py`` is loaded (the package's ``__init__`` needs numba, which
the network does not). ``FAN(4)`` on ``write_fan(scaled=True)``, seed 0, in float64; its last
stack's heatmaps, as HairCLIPv2's ``inference_on_kp_extractor`` (``scripts/text_proxy.py``,
``scripts/ref_proxy.py``) reads them from ``((F.interpolate(image, size=256) + 1) / 2).clamp(0, 1)``.
Stored: for the 256 px "face" crop, heatmap 30 (``heatmaps_channels``) and all 68 averaged over
8 x 8 blocks (``heatmaps_pooled``); the text proxy's landmark loss (``MSELoss`` of points 0-16
plus of points 27-35) and the reference proxy's (``MSELoss`` of all) between "face" and
"face_shifted"; the text loss's gradient to "face_shifted" summed over 8 x 8 blocks.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from _official import numpy_of, prepare

CHANNELS = [30]  # the nose tip


def main(package: str, out: str) -> None:
    prepare()
    from tests.golden_inputs import astronaut_image
    from tests.official.fan import write_fan

    spec = importlib.util.spec_from_file_location("official_fan", Path(package) / "models" / "fan.py")
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    path = Path(tempfile.mkdtemp(prefix="golden-fan-")) / "3DFAN4-7835d9f11d.pth.tar"
    network = official.FAN(4)
    network.load_state_dict(write_fan(path, scaled=True))
    network = network.double().eval()

    def heatmaps(image: torch.Tensor) -> torch.Tensor:  # HairCLIPv2's inference_on_kp_extractor
        return network(((F.interpolate(image, size=(256, 256)) + 1) / 2).clamp(0, 1))[-1]

    mse = torch.nn.MSELoss()
    with torch.no_grad():
        source = heatmaps(astronaut_image(256, "face").double())
    shifted = astronaut_image(256, "face_shifted").double().requires_grad_(True)
    generated = heatmaps(shifted)
    text_loss = mse(source[:, 0:17], generated[:, 0:17]) + mse(source[:, 27:36], generated[:, 27:36])
    reference_loss = mse(source, generated)
    text_loss.backward()
    np.savez(out, channels=np.array(CHANNELS), heatmaps_channels=numpy_of(source[0, CHANNELS]),
             heatmaps_pooled=numpy_of(F.avg_pool2d(source, 8)[0]), text_loss=numpy_of(text_loss),
             reference_loss=numpy_of(reference_loss), text_loss_grad_pooled=numpy_of(F.avg_pool2d(shifted.grad, 8) * 64))


if __name__ == "__main__":
    main(*sys.argv[1:3])
