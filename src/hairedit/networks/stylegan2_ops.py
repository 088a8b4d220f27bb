"""The StyleGAN2 generator's resampling and activation ops (:class:`FastOps`, the default).

The resampling ops are the maths of ``upfirdn2d`` (zero insertion, padding, FIR filter)
written as single PyTorch convolutions (a depthwise blur, a strided depthwise transposed
convolution); :mod:`.stylegan2_reference` writes the same ops straight from their definitions,
to check equality and speed against.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .layout import preferred_memory_format

if TYPE_CHECKING:  # the layers the ops compute for (they name their ops class, not this module)
    from .stylegan2 import ModulatedConv2d, StyledConv

BLUR_KERNEL = (1, 3, 3, 1)
LEAKY_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2)


# ---------------------------------------------------------------------------------------
# Resampling and activation ops. `FastOps` is the default; `stylegan2_reference.ReferenceOps`
# computes the same maths from the definitions, one op at a time.


class FastOps:
    """Resampling as single convolutions (no zero-insertion tensors, no permutes), modulation
    applied to the activations rather than the weights, and each styled convolution's
    demodulation, noise, bias and activation fused into three passes over its output."""

    memory_format = staticmethod(preferred_memory_format)

    @staticmethod
    def modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out, demodulation = FastOps.undemodulated_conv(conv, x, style)
        return out if demodulation is None else out * demodulation

    @staticmethod
    def undemodulated_conv(
        conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The modulated convolution before demodulation, and the demodulation (B, out, 1, 1).

        x: (B, in, H, W); style: (B, in), the output of ``conv.modulation``.

        The same maths as modulating the weights per sample, but the backward pass only needs
        the convolution's input gradient, not a weight gradient per sample. The demodulation
        is a per-channel scale, so it commutes with the (depthwise) blur of an upsampling conv.
        """
        batch = x.shape[0]
        weight = conv.weight[0] * conv.scale  # (out, in, k, k)
        if conv.kernel_size == 1:
            # A 1x1 convolution is a matrix product over channels; with the style folded into
            # the (tiny) weights it costs one pass over x instead of three.
            per_sample = weight[None, :, :, 0, 0] * style[:, None, :]  # (B, out, in)
            out = (per_sample @ x.flatten(2)).view(batch, -1, *x.shape[-2:])
        else:
            x = x * style.view(batch, -1, 1, 1)
            if conv.upsample:
                out = conv.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
            else:
                out = F.conv2d(x, weight, padding=conv.padding)
        if not conv.demodulate:
            return out, None
        demodulation = torch.rsqrt(style.pow(2) @ weight.pow(2).sum([2, 3]).t() + 1e-8)  # (B, out)
        return out, demodulation.view(batch, -1, 1, 1)

    @staticmethod
    def styled_conv(
        layer: StyledConv, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | torch.Generator
    ) -> torch.Tensor:
        """``leaky_relu(demodulated_conv + noise_weight * noise + bias) * sqrt(2)``.

        The gain moves inside the activation (``leaky_relu(z) * g == leaky_relu(g * z)`` for
        g > 0), so the scaled demodulation and bias go into one ``addcmul`` and the noise is
        added in place.
        """
        out, demodulation = FastOps.undemodulated_conv(layer.conv, x, layer.conv.modulation(style))
        bias = (layer.activate.bias * ACTIVATION_GAIN).view(1, -1, 1, 1)
        out = torch.addcmul(bias, out, demodulation * ACTIVATION_GAIN)
        out.add_(layer.noise.weight * ACTIVATION_GAIN * layer.noise.sample(out, noise))
        return F.leaky_relu(out, LEAKY_SLOPE, inplace=True)

    @staticmethod
    def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
        """FIR filter ``kernel`` (kh, kw) on every channel of ``x`` (B, C, H, W), padded by ``pad``."""
        channels = x.shape[1]
        x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
        # upfirdn2d convolves (flipped kernel); the symmetric FIR kernels here make that a no-op,
        # but the flip keeps the maths exact for any kernel.
        weight = torch.flip(kernel, (0, 1)).to(x.dtype).expand(channels, 1, *kernel.shape)
        return F.conv2d(x, weight, groups=channels)

    @staticmethod
    def upsample(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
        """2x zero-insertion upsampling followed by ``kernel``: a strided transposed convolution.

        ``pad`` is rosinality's (pad0, pad1) for ``upfirdn2d(up=2)``; with the 4-tap kernel
        (pad0, pad1) = (2, 1), which crops one pixel from each side of the transposed output.
        """
        channels = x.shape[1]
        weight = kernel.to(x.dtype).expand(channels, 1, *kernel.shape)
        crop = kernel.shape[0] - 1 - pad[0]
        return F.conv_transpose2d(x, weight, stride=2, padding=crop, groups=channels)

    @staticmethod
    def bias_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``leaky_relu(x + bias) * sqrt(2)``, bias per channel (dim 1)."""
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return F.leaky_relu(x + bias.view(shape), LEAKY_SLOPE) * ACTIVATION_GAIN


def make_kernel(taps: tuple[int, ...]) -> torch.Tensor:
    """Separable 2D FIR kernel from 1D taps, normalised to sum 1."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()
