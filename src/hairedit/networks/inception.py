"""Inception v3 as the FID network: TensorFlow's 2015-12-05 graph as pytorch-fid ported it.

Key names are torchvision's ``Inception3`` (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean`` ...), so pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth`` loads strictly. The TensorFlow graph differs from
torchvision's Inception in its pools: the average pools of the A, C and E blocks leave the
padding out of the average, and the last E block (``Mixed_7c``) pools by max.

``inception(images)``: (B, 3, H, W) in [-1, 1], any size -> (B, 2048) pool features, the
images first resized to 299 px by bilinear interpolation without antialiasing, as pytorch-fid
does (its FID numbers are the ones papers report).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict, read_checkpoint
from ..errors import CheckpointError
from ..weights.checks import checker
from .random_init import seeded

INPUT_SIZE_PX = 299
FEATURES = 2048
CLASSIFIER_KEYS = ("fc.weight", "fc.bias")  # the 1008 logits: FID reads the pool features before them


class BasicConv(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _same_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3x3 'SAME' average pool: the padding does not count in the average."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35 px: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1."""

    def __init__(self, in_channels: int, pool_features: int, width_divisor: int):
        super().__init__()
        self.branch1x1 = BasicConv(in_channels, 64 // width_divisor, 1)
        self.branch5x5_1 = BasicConv(in_channels, 48 // width_divisor, 1)
        self.branch5x5_2 = BasicConv(48 // width_divisor, 64 // width_divisor, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv(in_channels, 64 // width_divisor, 1)
        self.branch3x3dbl_2 = BasicConv(64 // width_divisor, 96 // width_divisor, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96 // width_divisor, 96 // width_divisor, 3, padding=1)
        self.branch_pool = BasicConv(in_channels, pool_features, 1)
        self.out_channels = (64 + 64 + 96) // width_divisor + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_same_avg_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    """35 -> 17 px: 3x3 stride 2 | 1x1 -> 3x3 -> 3x3 stride 2 | max pool."""

    def __init__(self, in_channels: int, width_divisor: int):
        super().__init__()
        self.branch3x3 = BasicConv(in_channels, 384 // width_divisor, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv(in_channels, 64 // width_divisor, 1)
        self.branch3x3dbl_2 = BasicConv(64 // width_divisor, 96 // width_divisor, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96 // width_divisor, 96 // width_divisor, 3, stride=2)
        self.out_channels = (384 + 96) // width_divisor + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """17 px, factorised 7x7: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1 -> 1x7) x 2 | pool -> 1x1."""

    def __init__(self, in_channels: int, channels_7x7: int, width_divisor: int):
        super().__init__()
        c7, out = channels_7x7, 192 // width_divisor
        row, column = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv(in_channels, out, 1)
        self.branch7x7_1 = BasicConv(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv(c7, c7, **row)
        self.branch7x7_3 = BasicConv(c7, out, **column)
        self.branch7x7dbl_1 = BasicConv(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv(c7, c7, **column)
        self.branch7x7dbl_3 = BasicConv(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv(c7, c7, **column)
        self.branch7x7dbl_5 = BasicConv(c7, out, **row)
        self.branch_pool = BasicConv(in_channels, out, 1)
        self.out_channels = 4 * out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_same_avg_pool(x)),
        ], 1)


class InceptionD(nn.Module):
    """17 -> 8 px: 1x1 -> 3x3 stride 2 | 1x1 -> 1x7 -> 7x1 -> 3x3 stride 2 | max pool."""

    def __init__(self, in_channels: int, width_divisor: int):
        super().__init__()
        self.branch3x3_1 = BasicConv(in_channels, 192 // width_divisor, 1)
        self.branch3x3_2 = BasicConv(192 // width_divisor, 320 // width_divisor, 3, stride=2)
        self.branch7x7x3_1 = BasicConv(in_channels, 192 // width_divisor, 1)
        self.branch7x7x3_2 = BasicConv(192 // width_divisor, 192 // width_divisor, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv(192 // width_divisor, 192 // width_divisor, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv(192 // width_divisor, 192 // width_divisor, 3, stride=2)
        self.out_channels = (320 + 192) // width_divisor + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            seven = layer(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8 px, split 3x3s: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1.

    ``max_pool``: the last block of the TensorFlow graph pools by max, the one before by average.
    """

    def __init__(self, in_channels: int, width_divisor: int, max_pool: bool):
        super().__init__()
        row, column = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
        self.max_pool = max_pool
        self.branch1x1 = BasicConv(in_channels, 320 // width_divisor, 1)
        self.branch3x3_1 = BasicConv(in_channels, 384 // width_divisor, 1)
        self.branch3x3_2a = BasicConv(384 // width_divisor, 384 // width_divisor, **row)
        self.branch3x3_2b = BasicConv(384 // width_divisor, 384 // width_divisor, **column)
        self.branch3x3dbl_1 = BasicConv(in_channels, 448 // width_divisor, 1)
        self.branch3x3dbl_2 = BasicConv(448 // width_divisor, 384 // width_divisor, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv(384 // width_divisor, 384 // width_divisor, **row)
        self.branch3x3dbl_3b = BasicConv(384 // width_divisor, 384 // width_divisor, **column)
        self.branch_pool = BasicConv(in_channels, 192 // width_divisor, 1)
        self.out_channels = (320 + 4 * 384 + 192) // width_divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _same_avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class FIDInception(nn.Module):
    """The FID Inception v3 up to its 2048 pool features.

    Args:
        width_divisor: divides every channel count; 1 for the real network, more for tests.
    """

    def __init__(self, width_divisor: int = 1):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv(3, 32 // width_divisor, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv(32 // width_divisor, 32 // width_divisor, 3)
        self.Conv2d_2b_3x3 = BasicConv(32 // width_divisor, 64 // width_divisor, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv(64 // width_divisor, 80 // width_divisor, 1)
        self.Conv2d_4a_3x3 = BasicConv(80 // width_divisor, 192 // width_divisor, 3)
        self.Mixed_5b = InceptionA(192 // width_divisor, 32 // width_divisor, width_divisor)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, 64 // width_divisor, width_divisor)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, 64 // width_divisor, width_divisor)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, width_divisor)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, 128 // width_divisor, width_divisor)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, 160 // width_divisor, width_divisor)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, 160 // width_divisor, width_divisor)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, 192 // width_divisor, width_divisor)
        self.Mixed_7a = InceptionD(self.Mixed_6e.out_channels, width_divisor)
        self.Mixed_7b = InceptionE(self.Mixed_7a.out_channels, width_divisor, max_pool=False)
        self.Mixed_7c = InceptionE(self.Mixed_7b.out_channels, width_divisor, max_pool=True)
        self.features = self.Mixed_7c.out_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, features) pool features."""
        x = F.interpolate(images, size=(INPUT_SIZE_PX, INPUT_SIZE_PX), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean((2, 3))


def load_inception(path: str | Path, device: str | torch.device = "cpu") -> FIDInception:
    """Read pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``.

    The classifier (``fc.*``) is dropped by name. Batch-norm counters
    (``num_batches_tracked``), which only training reads, default to 0 where a file lacks them.
    """
    state = read_checkpoint(path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} is not an Inception state dict (found {type(state).__name__}).")
    network = FIDInception()
    counters = {key: torch.zeros((), dtype=torch.long) for key in network.state_dict() if key.endswith("num_batches_tracked")}
    load_strict(network, {**counters, **state}, path, ignored_keys=CLASSIFIER_KEYS)
    return network.eval().requires_grad_(False).to(device)


def small_inception(seed: int = 0, width_divisor: int = 16) -> FIDInception:
    """The FID Inception's structure with every width divided by ``width_divisor``, random
    weights drawn to keep the activations' scale through its 94 layers (He initialisation;
    PyTorch's default shrinks them a thousandfold)."""
    with seeded(seed):
        network = FIDInception(width_divisor)
        for module in network.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return network.eval().requires_grad_(False)


@checker("pt_inception-2015-12-05-6726825d.pth")
def check_inception_file(path: Path) -> str:
    load_inception(path)
    return "FID Inception v3"
