"""pytorch-fid's pt_inception-2015-12-05-6726825d.pth: torchvision's Inception3 state dict with
1008 classes and no auxiliary classifier, written out from a reading of torchvision's
``inception.py`` (never from hairedit's modules)."""

from __future__ import annotations

import torch

from .layout import batchnorm, random_state


def _a(prefix, cin, pool):
    return [(f"{prefix}.branch1x1", cin, 64, 1, 1), (f"{prefix}.branch5x5_1", cin, 48, 1, 1),
            (f"{prefix}.branch5x5_2", 48, 64, 5, 5), (f"{prefix}.branch3x3dbl_1", cin, 64, 1, 1),
            (f"{prefix}.branch3x3dbl_2", 64, 96, 3, 3), (f"{prefix}.branch3x3dbl_3", 96, 96, 3, 3),
            (f"{prefix}.branch_pool", cin, pool, 1, 1)]


def _c(prefix, c7):
    return [(f"{prefix}.branch1x1", 768, 192, 1, 1), (f"{prefix}.branch7x7_1", 768, c7, 1, 1),
            (f"{prefix}.branch7x7_2", c7, c7, 1, 7), (f"{prefix}.branch7x7_3", c7, 192, 7, 1),
            (f"{prefix}.branch7x7dbl_1", 768, c7, 1, 1), (f"{prefix}.branch7x7dbl_2", c7, c7, 7, 1),
            (f"{prefix}.branch7x7dbl_3", c7, c7, 1, 7), (f"{prefix}.branch7x7dbl_4", c7, c7, 7, 1),
            (f"{prefix}.branch7x7dbl_5", c7, 192, 1, 7), (f"{prefix}.branch_pool", 768, 192, 1, 1)]


def _e(prefix, cin):
    return [(f"{prefix}.branch1x1", cin, 320, 1, 1), (f"{prefix}.branch3x3_1", cin, 384, 1, 1),
            (f"{prefix}.branch3x3_2a", 384, 384, 1, 3), (f"{prefix}.branch3x3_2b", 384, 384, 3, 1),
            (f"{prefix}.branch3x3dbl_1", cin, 448, 1, 1), (f"{prefix}.branch3x3dbl_2", 448, 384, 3, 3),
            (f"{prefix}.branch3x3dbl_3a", 384, 384, 1, 3), (f"{prefix}.branch3x3dbl_3b", 384, 384, 3, 1),
            (f"{prefix}.branch_pool", cin, 192, 1, 1)]


def inception_convs() -> list[tuple[str, int, int, int, int]]:
    """(BasicConv2d name, in, out, kernel height, kernel width) of every convolution, in order."""
    return [
        ("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
        ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3),
        *_a("Mixed_5b", 192, 32), *_a("Mixed_5c", 256, 64), *_a("Mixed_5d", 288, 64),
        ("Mixed_6a.branch3x3", 288, 384, 3, 3), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1),
        ("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3),
        *_c("Mixed_6b", 128), *_c("Mixed_6c", 160), *_c("Mixed_6d", 160), *_c("Mixed_6e", 192),
        ("Mixed_7a.branch3x3_1", 768, 192, 1, 1), ("Mixed_7a.branch3x3_2", 192, 320, 3, 3),
        ("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
        ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3),
        *_e("Mixed_7b", 1280), *_e("Mixed_7c", 2048),
    ]


def inception_shapes() -> dict:
    shapes: dict[str, tuple] = {}
    for name, cin, cout, kh, kw in inception_convs():
        shapes[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        batchnorm(shapes, f"{name}.bn", cout)
    shapes["fc.weight"] = (1008, 2048)
    shapes["fc.bias"] = (1008,)
    return shapes


def write_inception(path, seed: int = 0, scaled: bool = False) -> dict:
    """The whole file, random values (``scaled``: see ``random_state``)."""
    state = random_state(inception_shapes(), seed, scaled)
    torch.save(state, path)
    return state
