"""Golden values for hairedit's LaMa generator, computed by the official code.

Run outside the project's environment, with the official repository checked out:

    PYTHONPATH=<hairedit worktree>:<omegaconf> python3 tools/golden/lama.py /tmp/lama tests/golden/lama.npz

(omegaconf reads the official yaml as the official code does) where /tmp/lama holds advimman/lama's ``saicinpainting/`` and ``configs/`` (docs/golden.md
names the commit). The official modules are imported as published; two packages they import
at module level but the generator never calls (``pytorch_lightning.seed_everything`` in
``saicinpainting/utils.py``, ``kornia.geometry.transform.rotate`` in
``modules/spatial_transform.py``) are replaced by placeholders that raise if called.

The generator is big-lama's (``configs/training/big-lama.yaml``) made narrow (ngf 8, 2 residual
blocks: the same layers and channel split), with seeded weights written in the official
checkpoint layout by tests/official/lama.py (``scaled`` values), loaded strictly, run in float64
on a seeded 61 x 64 image with a hole, through the official prediction path: the dataset's
symmetric padding (``pad_img_to_modulo``, its file ``evaluation/data.py`` loaded alone) to a multiple of 8, ``img * (1 - mask)`` with the mask as a fourth channel,
the generator, ``mask * predicted + (1 - mask) * img``, cropped back.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

NGF, N_BLOCKS, SEED = 8, 2, 0
HEIGHT, WIDTH = 61, 64


def _placeholders() -> None:
    def unused(*args, **kwargs):
        raise RuntimeError("placeholder: the LaMa generator does not call this")

    lightning = types.ModuleType("pytorch_lightning")
    lightning.seed_everything = unused
    sys.modules.setdefault("pytorch_lightning", lightning)
    for name in ("kornia", "kornia.geometry", "kornia.geometry.transform"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["kornia.geometry.transform"].rotate = unused


def _module_from_file(path: Path) -> types.ModuleType:
    """One official file as a module, without its package's __init__ (which imports the
    evaluation's metrics: torchvision, kornia, joblib, none of them used here)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(official: Path, output: Path) -> None:
    _placeholders()
    sys.path.insert(0, str(official))
    from saicinpainting.training.modules import make_generator

    pad_img_to_modulo = _module_from_file(official / "saicinpainting/evaluation/data.py").pad_img_to_modulo

    from tests.official.lama import lama_generator_state

    training_config = OmegaConf.load(official / "configs/training/big-lama.yaml")
    config = OmegaConf.to_container(training_config.generator, resolve=True)
    generator = make_generator(training_config, **{**config, "ngf": NGF, "n_blocks": N_BLOCKS})

    # The tensors write_lama stores under generator.* (the test loads them from that file).
    generator.load_state_dict(lama_generator_state(SEED, "scaled", ngf=NGF, n_blocks=N_BLOCKS), strict=True)
    generator = generator.double().eval()

    g = torch.Generator().manual_seed(SEED + 1)
    image = torch.rand(1, 3, HEIGHT, WIDTH, generator=g, dtype=torch.float64)
    mask = torch.zeros(1, 1, HEIGHT, WIDTH, dtype=torch.float64)
    mask[..., 18:47, 9:40] = 1
    mask[..., 50:, 44:] = 1  # a hole touching the padded edge

    padded_image = torch.from_numpy(pad_img_to_modulo(image[0].numpy(), 8))[None]
    padded_mask = torch.from_numpy(pad_img_to_modulo(mask[0].numpy(), 8))[None]
    generator_input = torch.cat([padded_image * (1 - padded_mask), padded_mask], dim=1)
    with torch.no_grad():
        predicted = generator(generator_input)
    inpainted = (padded_mask * predicted + (1 - padded_mask) * padded_image)[..., :HEIGHT, :WIDTH]
    np.savez_compressed(
        output, seed=SEED, ngf=NGF, n_blocks=N_BLOCKS, image=image.numpy(), mask=mask.numpy(),
        generator_input=generator_input.numpy(), predicted=predicted.numpy(), inpainted=inpainted.numpy(),
    )
    print(f"wrote {output}: predicted in [{predicted.min():.4f}, {predicted.max():.4f}], std {predicted.std():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
