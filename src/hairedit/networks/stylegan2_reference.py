"""The generator's resampling and modulated convolutions written straight from their
definitions: the yardstick :class:`~hairedit.networks.stylegan2_ops.FastOps` is checked against.

``upfirdn2d`` (upsample, FIR filter, downsample) is the explicit sum over the filter's taps of
its defining formula, and a modulated convolution modulates and demodulates the weights of
each sample (StyleGAN2, eqs. 1-3) and convolves that sample with them, one sample at a time.
Tests compare the fast generator's images and gradients with this formulation, and
``hairedit bench`` measures how much faster the fast ops are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .stylegan2 import Generator
from .stylegan2_ops import FastOps


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``kernel``, keep every ``down``-th sample.

    x: (B, C, H, W); kernel: (kh, kw); pad: (before, after) on both axes, negative to crop.
    With ``p0 = pad[0]``, the signal being filtered is

        s[m, n] = x[(m - p0) / up, (n - p0) / up]  where both are whole numbers inside x, else 0,

    of size ``H * up + pad[0] + pad[1]`` (and the same across), and the output is its true
    convolution with the kernel, on the positions where the kernel lies wholly inside s,
    sampled every ``down``:

        out[i, j] = sum over a < kh, b < kw of kernel[kh - 1 - a, kw - 1 - b] * s[down i + a, down j + b].
    """
    batch, channels, height, width = x.shape
    kernel_h, kernel_w = kernel.shape
    before, after = pad
    signal = _zero_inserted(x, up, before, height * up + before + after, width * up + before + after)
    out_h = (signal.shape[2] - kernel_h) // down + 1
    out_w = (signal.shape[3] - kernel_w) // down + 1
    kernel = kernel.to(x)
    out = x.new_zeros(batch, channels, out_h, out_w)
    for a in range(kernel_h):
        for b in range(kernel_w):
            taps = signal[:, :, a : a + down * (out_h - 1) + 1 : down, b : b + down * (out_w - 1) + 1 : down]
            out = out + kernel[kernel_h - 1 - a, kernel_w - 1 - b] * taps
    return out


def _zero_inserted(x: torch.Tensor, up: int, offset: int, signal_h: int, signal_w: int) -> torch.Tensor:
    """(B, C, signal_h, signal_w) zeros with ``x[i, j]`` at ``(offset + up i, offset + up j)``
    where that lies inside (a negative offset or size crops)."""
    signal = x.new_zeros(*x.shape[:2], signal_h, signal_w)
    rows = offset + up * torch.arange(x.shape[2], device=x.device)
    columns = offset + up * torch.arange(x.shape[3], device=x.device)
    keep_rows = (rows >= 0) & (rows < signal_h)
    keep_columns = (columns >= 0) & (columns < signal_w)
    signal[:, :, rows[keep_rows, None], columns[None, keep_columns]] = x[:, :, keep_rows][:, :, :, keep_columns]
    return signal


class ReferenceOps(FastOps):
    """The same ops from their definitions, each its own pass."""

    @staticmethod
    def memory_format(device: torch.device) -> torch.memory_format:
        return torch.contiguous_format

    @staticmethod
    def styled_conv(layer, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """Modulated convolution, then noise, then bias and leaky ReLU, each its own pass."""
        return layer.activate(layer.noise(layer.conv(x, style), noise))

    @staticmethod
    def modulated_conv(conv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Each sample convolved with its own weights: ``w' = scale * w * s`` (modulation),
        divided by ``sqrt(sum w'^2 + 1e-8)`` over the inputs and taps of each output channel
        (demodulation). An upsampling convolution is a stride-2 transposed convolution (the
        convolution of the zero-inserted input) followed by the blur."""
        outputs = []
        for sample in range(x.shape[0]):
            weight = conv.scale * conv.weight[0] * style[sample].view(1, -1, 1, 1)  # (out, in, k, k)
            if conv.demodulate:
                weight = weight / torch.sqrt(weight.square().sum((1, 2, 3), keepdim=True) + 1e-8)
            one = x[sample : sample + 1]
            if conv.upsample:
                outputs.append(conv.blur(F.conv_transpose2d(one, weight.transpose(0, 1), stride=2)))
            else:
                outputs.append(F.conv2d(one, weight, padding=conv.padding))
        return torch.cat(outputs)

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
