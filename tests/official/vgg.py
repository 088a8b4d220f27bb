"""torchvision's vgg16-397923af.pth and the LPIPS package's weights/v0.1/vgg.pth."""

from __future__ import annotations

import torch

from .layout import random_state

# torchvision VGG16 `features` indices of the 13 convolutions and their widths.
VGG16_CONVS = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
               (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512))
# torchvision VGG16 `classifier` indices of its three linear layers: in -> out features.
VGG16_LINEARS = ((0, 25088, 4096), (3, 4096, 4096), (6, 4096, 1000))


def vgg16_shapes() -> dict:
    shapes = {}
    for index, cin, cout in VGG16_CONVS:
        shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
        shapes[f"features.{index}.bias"] = (cout,)
    for index, cin, cout in VGG16_LINEARS:
        shapes[f"classifier.{index}.weight"] = (cout, cin)
        shapes[f"classifier.{index}.bias"] = (cout,)
    return shapes


def lpips_lin_shapes() -> dict:
    return {f"lin{i}.model.1.weight": (1, width, 1, 1) for i, width in enumerate((64, 128, 256, 512, 512))}


def write_vgg16(path, seed: int = 0, scaled: bool = False) -> dict:
    """The whole file: random ``features`` (``scaled``: see ``random_state``); the classifier
    (124M numbers nobody reads) as constant tensors of the exact shapes, stored as one value
    each so the file stays small."""
    shapes = vgg16_shapes()
    state = random_state({k: v for k, v in shapes.items() if k.startswith("features.")}, seed, scaled)
    for key, shape in shapes.items():
        if key.startswith("classifier."):
            state[key] = torch.full((), 0.01).expand(shape)
    torch.save(state, path)
    return state


def write_lpips_lin(path, seed: int = 0) -> dict:
    state = {key: value.abs() for key, value in random_state(lpips_lin_shapes(), seed).items()}
    torch.save(state, path)
    return state
