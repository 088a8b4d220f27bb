"""The IR-SE-50 backbone shared by pSp-family encoders (E2Style's sketch encoder, e4e).

Both official encoders build the same ``input_layer`` (3x3 convolution, batch norm, PReLU)
and ``body`` (24 bottleneck units with squeeze-excitation, in four stages of 64, 128, 256
and 512 channels, each stage halving the resolution), with the same state-dict names; they
differ only in which stage outputs feed their style heads.
"""

from __future__ import annotations

import torch
from torch import nn

IR_SE_50_UNITS = (3, 4, 14, 3)  # bottleneck units per stage
STAGE_DEPTHS = (64, 128, 256, 512)  # channels per stage


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class BottleneckIRSE(nn.Module):
    def __init__(self, in_channel: int, depth: int, stride: int):
        super().__init__()
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)  # a strided identity
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channel, depth, 1, stride, bias=False), nn.BatchNorm2d(depth)
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channel),
            nn.Conv2d(in_channel, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SqueezeExcite(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSEBackbone(nn.Module):
    """``input_layer`` and ``body`` of an IR-SE network; :meth:`stage_outputs` runs it.

    Args:
        input_nc: input channels (1 for sketches, 3 for photos).
        units: bottleneck units per stage; the first unit of each stage has stride 2.
        depths: channels per stage.
    """

    def __init__(self, input_nc: int, units: tuple[int, ...] = IR_SE_50_UNITS, depths: tuple[int, ...] = STAGE_DEPTHS):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(input_nc, depths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(depths[0]), nn.PReLU(depths[0])
        )
        blocks, in_channel = [], depths[0]
        for n_units, depth in zip(units, depths):
            for unit in range(n_units):
                blocks.append(BottleneckIRSE(in_channel, depth, 2 if unit == 0 else 1))
                in_channel = depth
        self.body = nn.Sequential(*blocks)
        self.stage_ends = [sum(units[: i + 1]) for i in range(len(units))]

    def stage_outputs(self, image: torch.Tensor, n_stages: int) -> list[torch.Tensor]:
        """(B, input_nc, H, W) -> the outputs of the first ``n_stages`` stages; stage ``i``
        gives (B, depths[i], H / 2**(i+1), W / 2**(i+1)). Later stages are not run."""
        x = self.input_layer(image)
        outputs, start = [], 0
        for end in self.stage_ends[:n_stages]:
            x = self.body[start:end](x)
            outputs.append(x)
            start = end
        return outputs
