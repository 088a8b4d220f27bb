"""seg.pth: the BiSeNet state dict (face-parsing.PyTorch layout), auxiliary heads included."""

from __future__ import annotations

import torch

from .layout import batchnorm, random_state


def _conv_bn(shapes, prefix, cin, cout, k):
    shapes[f"{prefix}.conv.weight"] = (cout, cin, k, k)
    batchnorm(shapes, f"{prefix}.bn", cout)


def bisenet_shapes(n_classes: int = 16, auxiliary_heads: bool = True) -> dict:
    shapes: dict[str, tuple] = {}
    shapes["cp.resnet.conv1.weight"] = (64, 3, 7, 7)
    batchnorm(shapes, "cp.resnet.bn1", 64)
    for layer, (cin, cout, stride) in enumerate(((64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)), 1):
        for block in range(2):
            prefix = f"cp.resnet.layer{layer}.{block}"
            block_in = cin if block == 0 else cout
            shapes[f"{prefix}.conv1.weight"] = (cout, block_in, 3, 3)
            batchnorm(shapes, f"{prefix}.bn1", cout)
            shapes[f"{prefix}.conv2.weight"] = (cout, cout, 3, 3)
            batchnorm(shapes, f"{prefix}.bn2", cout)
            if block == 0 and (cin != cout or stride != 1):
                shapes[f"{prefix}.downsample.0.weight"] = (cout, cin, 1, 1)
                batchnorm(shapes, f"{prefix}.downsample.1", cout)
    for name, cin in (("arm16", 256), ("arm32", 512)):
        _conv_bn(shapes, f"cp.{name}.conv", cin, 128, 3)
        shapes[f"cp.{name}.conv_atten.weight"] = (128, 128, 1, 1)
        batchnorm(shapes, f"cp.{name}.bn_atten", 128)
    _conv_bn(shapes, "cp.conv_head32", 128, 128, 3)
    _conv_bn(shapes, "cp.conv_head16", 128, 128, 3)
    _conv_bn(shapes, "cp.conv_avg", 512, 128, 1)
    _conv_bn(shapes, "ffm.convblk", 256, 256, 1)
    shapes["ffm.conv1.weight"] = (64, 256, 1, 1)
    shapes["ffm.conv2.weight"] = (256, 64, 1, 1)
    heads = [("conv_out", 256, 256)] + ([("conv_out16", 128, 64), ("conv_out32", 128, 64)] if auxiliary_heads else [])
    for name, cin, mid in heads:
        _conv_bn(shapes, f"{name}.conv", cin, mid, 3)
        shapes[f"{name}.conv_out.weight"] = (n_classes, mid, 1, 1)
    return shapes


def write_seg(path, seed: int = 0, **kwargs) -> dict:
    state = random_state(bisenet_shapes(**kwargs), seed)
    torch.save(state, path)
    return state
