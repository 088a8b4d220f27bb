"""FAN (Bulat & Tzimiropoulos): stacked-hourglass 68-landmark heatmaps, face-alignment's layout.

HairCLIPv2 keeps a proxy's face shape by matching these heatmaps with the photo's. The
``3DFAN4-7835d9f11d.pth.tar`` file of face-alignment 1.5 is a plain state dict of this
network (four stacks), read with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict, read_checkpoint

N_LANDMARKS = 68
INPUT_SIZE_PX = 256
JAW = slice(0, 17)
NOSE = slice(27, 36)


def _conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, 1, 1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation block whose three convolutions' outputs are concatenated."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = _conv3x3(in_planes, out_planes // 2)
        self.bn2 = nn.BatchNorm2d(out_planes // 2)
        self.conv2 = _conv3x3(out_planes // 2, out_planes // 4)
        self.bn3 = nn.BatchNorm2d(out_planes // 4)
        self.conv3 = _conv3x3(out_planes // 4, out_planes // 4)
        self.downsample = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_planes), nn.ReLU(), nn.Conv2d(in_planes, out_planes, 1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], 1) + residual


class HourGlass(nn.Module):
    def __init__(self, depth: int, features: int):
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            if level == 1:
                self.add_module(f"b2_plus_{level}", ConvBlock(features, features))
            self.add_module(f"b3_{level}", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        upper = self._modules[f"b1_{level}"](x)
        lower = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        lower = self._level(level - 1, lower) if level > 1 else self._modules[f"b2_plus_{level}"](lower)
        lower = self._modules[f"b3_{level}"](lower)
        return upper + F.interpolate(lower, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)


class FAN(nn.Module):
    """(B, 3, 256, 256) in [0, 1] -> one (B, 68, 64, 64) heatmap stack per hourglass."""

    def __init__(self, num_modules: int = 4, width: int = 256, hourglass_depth: int = 4):
        super().__init__()
        self.num_modules = num_modules
        half = width // 2
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, half)
        self.conv3 = ConvBlock(half, half)
        self.conv4 = ConvBlock(half, width)
        for i in range(num_modules):
            self.add_module(f"m{i}", HourGlass(hourglass_depth, width))
            self.add_module(f"top_m_{i}", ConvBlock(width, width))
            self.add_module(f"conv_last{i}", nn.Conv2d(width, width, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(width))
            self.add_module(f"l{i}", nn.Conv2d(width, N_LANDMARKS, 1))
            if i < num_modules - 1:
                self.add_module(f"bl{i}", nn.Conv2d(width, width, 1))
                self.add_module(f"al{i}", nn.Conv2d(N_LANDMARKS, width, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        previous, outputs = x, []
        for i in range(self.num_modules):
            features = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](previous))
            features = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](features)))
            heatmaps = self._modules[f"l{i}"](features)
            outputs.append(heatmaps)
            if i < self.num_modules - 1:
                previous = previous + self._modules[f"bl{i}"](features) + self._modules[f"al{i}"](heatmaps)
        return outputs


class LandmarkHeatmaps(nn.Module):
    """HairCLIPv2's landmark extractor: image in [-1, 1] -> the last stack's heatmaps.

    The image is resized to 256 px (nearest, ``F.interpolate``'s default as in the official
    code), mapped to [0, 1] and clamped; differentiable with respect to the image.
    """

    def __init__(self, fan: FAN):
        super().__init__()
        self.fan = fan

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = ((F.interpolate(image, size=(INPUT_SIZE_PX, INPUT_SIZE_PX)) + 1) / 2).clamp(0, 1)
        return self.fan(x)[-1]


def load_fan(path: str | Path, device: str | torch.device = "cpu") -> LandmarkHeatmaps:
    """Read face-alignment's ``3DFAN4-*.pth.tar`` (a state dict of a four-stack FAN)."""
    fan = FAN(num_modules=4)
    load_strict(fan, read_checkpoint(path), path)
    return LandmarkHeatmaps(fan).eval().requires_grad_(False).to(device)


def small_fan(seed: int = 0) -> LandmarkHeatmaps:
    """One narrow stack of depth 2, same building blocks."""
    torch.manual_seed(seed)
    return LandmarkHeatmaps(FAN(num_modules=1, width=32, hourglass_depth=2)).eval().requires_grad_(False)
