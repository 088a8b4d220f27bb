"""Stand-ins, in plain PyTorch, for what official StyleGAN2 code compiles or imports but the
golden scripts never need: rosinality's CUDA operators (``models/stylegan2/op``, compiled on
import in e4e and HairCLIP) and modules imported for plotting only.

Our own code, from the operators' definitions: ``fused_leaky_relu`` adds a bias per channel,
applies a leaky ReLU and scales; ``upfirdn2d`` is hairedit's reference implementation (the
explicit sum over the filter's taps). In the golden runs the StyleGAN2 decoders are built and
loaded strictly, but not run.
"""

from __future__ import annotations

import math
import sys
import types

import torch
import torch.nn.functional as F
from torch import nn


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2,
                     scale: float = math.sqrt(2)) -> torch.Tensor:
    """``leaky_relu(x + bias) * scale``, the bias along dimension 1."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    """A learned bias per channel, then :func:`fused_leaky_relu` (the official parameter name)."""

    def __init__(self, channel: int, negative_slope: float = 0.2, scale: float = math.sqrt(2)):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))
        self.negative_slope, self.scale = negative_slope, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


def install(package: str = "models.stylegan2.op") -> None:
    """Make ``import <package>`` give these operators instead of compiling the CUDA ones, and
    let ``import matplotlib`` (plotting, unused here) succeed where it is not installed."""
    from hairedit.networks.stylegan2_reference import upfirdn2d

    ops = types.ModuleType(package)
    ops.fused_leaky_relu, ops.FusedLeakyReLU, ops.upfirdn2d = fused_leaky_relu, FusedLeakyReLU, upfirdn2d
    sys.modules[package] = ops
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plotting = types.ModuleType("matplotlib")
        plotting.use = lambda *args, **kwargs: None
        plotting.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules.update({"matplotlib": plotting, "matplotlib.pyplot": plotting.pyplot})
