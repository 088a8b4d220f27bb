"""tests/golden/e4e_inversion.npz from encoder4editing's own inference code.

    python tools/golden/e4e_inversion_npz.py E4E_CHECKOUT OUT.npz

encoder4editing (omertov/encoder4editing) as its ``scripts/inference.py`` runs it: the weights
file ``write_e4e(seed=0)`` (tests/official/e4e.py) loaded by ``utils.model_utils.setup_model``
(the whole pSp, strictly); the input, skimage's astronaut doubled by pixel repetition to
1024 px and saved as PNG, read by the official ``InferenceDataset`` with
``EncodeTransforms(opts)['transform_test']``; ``scripts.inference.get_latents`` in float64
(the whole pSp and the input ``.double()``). CUDA operators and plotting imports are replaced
by tools/golden/_cpu_ops.py (the decoder is loaded, never run). Stored: ``input_sha256`` (the
input tensor as uint8 levels), ``input_float_sha256`` (the float32 tensor's bytes),
``w_plus_float64`` (1, 18, 512). The float32 run's difference is printed, not stored.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _cpu_ops import install
from _official import numpy_of, prepare


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    install()
    from skimage.data import astronaut

    from configs.transforms_config import EncodeTransforms
    from datasets.inference_dataset import InferenceDataset
    from scripts.inference import get_latents
    from tests.official.e4e import write_e4e
    from utils.model_utils import setup_model

    scratch = Path(tempfile.mkdtemp(prefix="golden-e4e-"))
    write_e4e(scratch / "e4e_ffhq_encode.pt", seed=0)
    (scratch / "photos").mkdir()
    Image.fromarray(np.repeat(np.repeat(astronaut(), 2, axis=0), 2, axis=1)).save(scratch / "photos" / "astronaut.png")

    net, opts = setup_model(str(scratch / "e4e_ffhq_encode.pt"), "cpu")
    dataset = InferenceDataset(root=str(scratch / "photos"), opts=opts,
                               transform=EncodeTransforms(opts).get_transforms()["transform_test"])
    image = dataset[0].unsqueeze(0)
    levels = torch.round((image * 0.5 + 0.5) * 255).to(torch.uint8)
    with torch.no_grad():
        w_plus_float32 = get_latents(net, image)
        w_plus_float64 = get_latents(net.double(), image.double())
    print(f"float32 against float64: max |difference| {(w_plus_float32.double() - w_plus_float64).abs().max():.3e}")
    np.savez(
        out,
        input_sha256=hashlib.sha256(levels.numpy().tobytes()).hexdigest(),
        input_float_sha256=hashlib.sha256(image.numpy().tobytes()).hexdigest(),
        w_plus_float64=numpy_of(w_plus_float64),
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
