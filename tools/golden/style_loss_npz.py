"""tests/golden/style_loss.npz from HairCLIPv2's masked Gram style loss.

    python tools/golden/style_loss_npz.py HAIRCLIPV2_CHECKOUT OUT.npz

``loss_48px``: ``criteria.transfer_loss.TransferLossBuilder().style_loss(face, suit,
mask(face), mask(face_shifted))`` on 48 px inputs (the loss resizes to 256 px itself);
``grad_48px``: its gradient to the second image. VGG16: ``write_vgg16(scaled=True)``, seed 0,
loaded where the official code asks torchvision for ImageNet's; float64.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from _official import numpy_of, prepare, torchvision_vgg16_from


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    from tests.golden_inputs import astronaut_image, hair_mask
    from tests.official.vgg import write_vgg16

    folder = Path(tempfile.mkdtemp(prefix="golden-style-"))
    write_vgg16(folder / "vgg16-397923af.pth", scaled=True)
    torchvision_vgg16_from(folder / "vgg16-397923af.pth")
    from criteria.transfer_loss import TransferLossBuilder

    builder = TransferLossBuilder().double().eval()
    face, masks = astronaut_image(48, "face").double(), [hair_mask(48, which).double() for which in (0, 1)]
    suit = astronaut_image(48, "suit").double().requires_grad_(True)
    loss = builder.style_loss(face, suit, *masks)
    loss.backward()
    np.savez(out, loss_48px=numpy_of(loss).reshape(()), grad_48px=numpy_of(suit.grad))


if __name__ == "__main__":
    main(*sys.argv[1:3])
