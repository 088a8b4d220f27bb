"""tests/golden/fid_inception.npz from pytorch-fid's own FID Inception, on torchvision's.

    python tools/golden/fid_inception_npz.py PYTORCH_FID_CHECKOUT OUT.npz

pytorch-fid's ``InceptionV3([3])`` (``src/pytorch_fid/inception.py``: torchvision's
``Inception3`` with its FID blocks patched in), its weights download replaced by
``write_inception(scaled=True)``, seed 0, in pytorch-fid's published layout; run in float64 on
the 256 px "face" and "suit" crops in [0, 1] (pytorch-fid resizes them to 299 px). Stored:
``features`` (2, 2048), the pool features FID is computed from.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from _official import numpy_of, prepare


def main(checkout: str, out: str) -> None:
    prepare(Path(checkout) / "src")
    from pytorch_fid import inception
    from tests.golden_inputs import astronaut_image
    from tests.official.inception import write_inception

    state = write_inception(Path(tempfile.mkdtemp(prefix="golden-fid-")) / "pt_inception.pth", scaled=True)
    inception.load_state_dict_from_url = lambda *args, **kwargs: state
    network = inception.InceptionV3([3]).double().eval()
    images = torch.cat([astronaut_image(256, "face"), astronaut_image(256, "suit")]).double().add(1).div(2)
    with torch.no_grad():
        features = network(images)[0].flatten(1)
    np.savez(out, features=numpy_of(features))


if __name__ == "__main__":
    main(*sys.argv[1:3])
