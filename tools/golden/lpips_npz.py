"""tests/golden/lpips.npz from the lpips package 0.1.4 and HairCLIPv2's own copy of LPIPS.

    python tools/golden/lpips_npz.py HAIRCLIPV2_CHECKOUT OUT.npz

``distance``: ``lpips.LPIPS(net="vgg", version="0.1")(x, y)`` for x = (face, suit), y = (suit,
face_shifted), 64 px; ``distance_hairclipv2_copy``: the same by HairCLIPv2's
``criteria.lpips.PerceptualLoss(model="net-lin", net="vgg")``; ``grad_48px``: the gradient of
the package's ``LPIPS(face, suit)`` at 48 px to the first image. Weights: ``write_vgg16(scaled=True)``
and ``write_lpips_lin``, seed 0; all in float64.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from _official import numpy_of, prepare, torchvision_vgg16_from


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    from tests.golden_inputs import astronaut_image
    from tests.official.vgg import write_lpips_lin, write_vgg16

    folder = Path(tempfile.mkdtemp(prefix="golden-lpips-"))
    write_vgg16(folder / "vgg16-397923af.pth", scaled=True)
    write_lpips_lin(folder / "vgg.pth")
    torchvision_vgg16_from(folder / "vgg16-397923af.pth")

    import lpips
    from criteria.lpips import PerceptualLoss  # HairCLIPv2's copy

    package = lpips.LPIPS(net="vgg", version="0.1", model_path=str(folder / "vgg.pth"), verbose=False).double().eval()
    copy = PerceptualLoss(model="net-lin", net="vgg", use_gpu=False)
    copy.model.net.load_state_dict(torch.load(folder / "vgg.pth"), strict=False)  # its lin layers: ours, not its file's
    copy.model.net.double().eval()  # DistModel is no nn.Module: its network is converted itself

    x = torch.cat([astronaut_image(64, "face"), astronaut_image(64, "suit")]).double()
    y = torch.cat([astronaut_image(64, "suit"), astronaut_image(64, "face_shifted")]).double()
    with torch.no_grad():
        distance = package(x, y).flatten()
        distance_copy = copy(y, x).flatten()  # its forward(pred, target) compares (target, pred)
    image = astronaut_image(48, "face").double().requires_grad_(True)
    package(image, astronaut_image(48, "suit").double()).sum().backward()
    np.savez(out, distance=numpy_of(distance), distance_hairclipv2_copy=numpy_of(distance_copy),
             grad_48px=numpy_of(image.grad))


if __name__ == "__main__":
    main(*sys.argv[1:3])
