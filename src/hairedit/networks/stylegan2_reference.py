"""The reference formulation of the generator's resampling: rosinality's pure-PyTorch path.

rosinality's ``upfirdn2d`` falls back, without its CUDA extension, to a generic
upsample / pad / FIR / downsample routine that inserts zeros into a channels-last copy,
pads, filters every channel as a separate one-channel image and permutes back; its
modulated convolutions scale the weights per sample and run one grouped convolution. The
maths is the same as :class:`~hairedit.networks.stylegan2.FastOps`; this module exists so
that tests and ``hairedit bench`` can check that the fast ops give the same images and
measure how much faster they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .stylegan2 import FastOps, Generator


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative crops), convolve with ``kernel``, downsample.

    x: (B, C, H, W); kernel: (kh, kw); pad: (before, after), the same on both axes.
    """
    batch, channels, in_h, in_w = x.shape
    kernel_h, kernel_w = kernel.shape
    pad0, pad1 = pad
    out = x.reshape(batch * channels, in_h, 1, in_w, 1, 1)
    out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1])
    out = out.reshape(batch * channels, in_h * up, in_w * up, 1)
    out = F.pad(out, [0, 0, max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    out = out[
        :,
        max(-pad0, 0) : out.shape[1] - max(-pad1, 0),
        max(-pad0, 0) : out.shape[2] - max(-pad1, 0),
        :,
    ]
    out = out.permute(0, 3, 1, 2).reshape(-1, 1, in_h * up + pad0 + pad1, in_w * up + pad0 + pad1)
    weight = torch.flip(kernel, (0, 1)).view(1, 1, kernel_h, kernel_w).to(out.dtype)
    out = F.conv2d(out, weight)
    out = out.reshape(-1, 1, out.shape[-2], out.shape[-1]).permute(0, 2, 3, 1)
    out = out[:, ::down, ::down, :]
    return out.reshape(batch, channels, out.shape[1], out.shape[2])


class ReferenceOps(FastOps):
    """rosinality's formulation of the same ops."""

    @staticmethod
    def memory_format(device: torch.device) -> torch.memory_format:
        return torch.contiguous_format

    @staticmethod
    def styled_conv(layer, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """Modulated convolution, then noise, then bias and leaky ReLU, each its own pass."""
        return layer.activate(layer.noise(layer.conv(x, style), noise))

    @staticmethod
    def modulated_conv(conv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Per-sample modulated and demodulated weights, one grouped convolution for the batch."""
        batch, _, height, width = x.shape
        weight = conv.scale * conv.weight * style.view(batch, 1, conv.in_channel, 1, 1)
        if conv.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, conv.out_channel, 1, 1, 1)
        x = x.reshape(1, batch * conv.in_channel, height, width)
        k = conv.kernel_size
        if conv.upsample:
            weight = weight.transpose(1, 2).reshape(batch * conv.in_channel, conv.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=batch)
            return conv.blur(out.view(batch, conv.out_channel, *out.shape[-2:]))
        weight = weight.view(batch * conv.out_channel, conv.in_channel, k, k)
        out = F.conv2d(x, weight, padding=conv.padding, groups=batch)
        return out.view(batch, conv.out_channel, *out.shape[-2:])

    @staticmethod
    def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
        return upfirdn2d(x, kernel, pad=pad)

    @staticmethod
    def upsample(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
        return upfirdn2d(x, kernel, up=2, pad=pad)


@contextlib.contextmanager
def reference_formulation(generator: Generator) -> Iterator[Generator]:
    """Within the block, ``generator`` computes with :class:`ReferenceOps`."""
    generator.set_ops(ReferenceOps)
    try:
        yield generator
    finally:
        generator.set_ops(FastOps)
