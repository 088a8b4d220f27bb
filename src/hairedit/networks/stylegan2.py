"""StyleGAN2 generator (config-f) with rosinality's state-dict layout, in pure PyTorch.

The official HairCLIPv2 / Barbershop checkpoint ``ffhq.pt`` loads into :class:`Generator`
strictly. Synthesis can stop after any block (e.g. the 32 px features ``F``) and start again
from given features at a later block, as HairCLIPv2's modified generator does.

The layers compute with the ops of :mod:`.stylegan2_ops` (``upfirdn2d``'s maths as single
convolutions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint
from ..config import StyleLayout
from ..weights.checks import checker
from .stylegan2_ops import BLUR_KERNEL, FastOps, make_kernel
from .random_init import seeded

# ---------------------------------------------------------------------------------------
# Layers (rosinality's names: every parameter and buffer keeps its checkpoint key).


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate; ``lr_mul`` scales weight and bias at run time."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias_init: float = 0.0,  # e.g. 1 for the modulation layers
        lr_mul: float = 1.0,  # 0.01 in the mapping network
        activation: bool = False,  # fused leaky ReLU
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation
        self.ops = FastOps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return self.ops.bias_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(BLUR_KERNEL) * upsample_factor**2)
        self.pad = pad
        self.ops = FastOps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.blur(x, self.kernel, self.pad)


class Upsample(nn.Module):
    def __init__(self, factor: int = 2):
        super().__init__()
        self.register_buffer("kernel", make_kernel(BLUR_KERNEL) * factor**2)
        p = len(BLUR_KERNEL) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)
        self.ops = FastOps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.upsample(x, self.kernel, self.pad)


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per sample by a style vector (and demodulated)."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,  # 2x: transposed convolution then blur
    ):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            factor = 2
            p = (len(BLUR_KERNEL) - factor) - (kernel_size - 1)
            self.blur = Blur(pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

        self.ops = FastOps

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """x (B, in, H, W), style (B, style_dim) -> (B, out, H', W')."""
        return self.ops.modulated_conv(self, x, self.modulation(style))


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | torch.Generator) -> torch.Tensor:
        return x + self.weight * self.sample(x, noise)

    @staticmethod
    def sample(x: torch.Tensor, noise: torch.Tensor | torch.Generator) -> torch.Tensor:
        """``noise``, or, given a ``torch.Generator``, fresh standard normal noise (B, 1, H, W)
        for ``x`` drawn from it (the official ``randomize_noise=True``, made reproducible)."""
        if isinstance(noise, torch.Generator):
            batch, _, height, width = x.shape
            return torch.randn(batch, 1, height, width, generator=noise, device=x.device, dtype=x.dtype)
        return noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))
        self.ops = FastOps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.bias_leaky_relu(x, self.bias)


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_channel: int, out_channel: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)
        self.ops = FastOps

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | torch.Generator) -> torch.Tensor:
        return self.ops.styled_conv(self, x, style, noise)


class ToRGB(nn.Module):
    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


# ---------------------------------------------------------------------------------------


@dataclass
class Synthesis:
    """What a (partial) synthesis returns.

    image: (B, 3, r, r) in about [-1, 1], the RGB skip output after the last block run
        (the full image when synthesis ran to the end).
    features: (B, C, r, r), that block's features (F when it is the 32 px block), channels-last
        in memory on CPU.
    """

    image: torch.Tensor
    features: torch.Tensor


def official_channels(size_px: int, channel_multiplier: int = 2, channel_max: int = 512) -> dict[int, int]:
    """Feature channels per resolution of config-f, optionally capped for narrow test nets."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    channels = {}
    for res in (2**i for i in range(2, size_px.bit_length())):
        width = base[res] * (channel_multiplier if res >= 64 else 1) if res in base else 16 * channel_multiplier
        channels[res] = min(width, channel_max)
    return channels


class Generator(nn.Module):
    """StyleGAN2 generator; keys match rosinality's ``g_ema``.

    >>> g = small_generator(size_px=64)
    >>> latent = g.mean_latent(64).unsqueeze(1).repeat(1, g.n_latent, 1)
    >>> g.synthesis(latent).image.shape
    torch.Size([1, 3, 64, 64])
    """

    def __init__(
        self,
        size: int = 1024,  # output resolution, a power of two >= 8
        style_dim: int = 512,  # width of z, w and each W+ row
        n_mlp: int = 8,  # mapping network depth
        channel_multiplier: int = 2,  # config-f
        channel_max: int = 512,  # caps every block's width (narrow test networks)
        lr_mlp: float = 0.01,  # mapping learning-rate multiplier
    ):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"generator size must be a power of two >= 8. Got {size}")
        self.size, self.style_dim = size, style_dim
        self.ops = FastOps
        self.layout = StyleLayout(size)
        self.n_latent = self.layout.n_latent
        self.style = nn.Sequential(
            PixelNorm(),
            *(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)),
        )
        self.channels = official_channels(size, channel_multiplier, channel_max)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], style_dim)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)
        log_size = size.bit_length() - 1
        self.num_layers = (log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer in range(self.num_layers):
            res = 2 ** ((layer + 5) // 2)
            self.noises.register_buffer(f"noise_{layer}", torch.randn(1, 1, res, res))
        in_channel = self.channels[4]
        for res in (2**i for i in range(3, log_size + 1)):
            out_channel = self.channels[res]
            self.convs.append(StyledConv(in_channel, out_channel, style_dim, upsample=True))
            self.convs.append(StyledConv(out_channel, out_channel, style_dim))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel

    # -- mapping -------------------------------------------------------------------------

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) -> w (B, style_dim)."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n_samples: int = 4096, seed: int = 0) -> torch.Tensor:
        """Mean of ``n_samples`` mapped latents, (1, style_dim)."""
        device = self.input.input.device
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n_samples, self.style_dim, generator=g).to(device)
        return self.map(z).mean(0, keepdim=True)

    def truncate(self, w: torch.Tensor, mean_w: torch.Tensor, psi: float) -> torch.Tensor:
        """Truncation trick: pull ``w`` towards ``mean_w`` by ``psi`` (1 = unchanged)."""
        return mean_w + psi * (w - mean_w)

    # -- synthesis -----------------------------------------------------------------------

    def fixed_noise(self) -> list[torch.Tensor]:
        """The checkpoint's noise buffers (the official ``randomize_noise=False``)."""
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def synthesis(
        self,
        latent: torch.Tensor,
        start_features: torch.Tensor | None = None,
        stop_px: int | None = None,
        noise: list[torch.Tensor] | torch.Generator | None = None,
        start_image: torch.Tensor | None = None,
    ) -> Synthesis:
        """Render W+ ``latent`` (B, n_latent, style_dim).

        start_features: (B, C, r, r) features after the block at r px; synthesis then runs
            the blocks from 2r px on. As in HairCLIPv2, the RGB skip path starts afresh at
            the first of them, unless ``start_image`` (the skip image of the stopped
            synthesis) continues it, which reproduces the full synthesis exactly.
        stop_px: stop after the block at this resolution (default: the output size).
        noise: ``None`` for the fixed noise buffers, a ``torch.Generator`` (on the latent's
            device) to draw fresh noise from for every layer run, in order, or a list of
            ``num_layers`` tensors.
        """
        if latent.ndim != 3 or latent.shape[1:] != (self.n_latent, self.style_dim):
            raise ValueError(
                f"latent must be (B, {self.n_latent}, {self.style_dim}). Got {tuple(latent.shape)}"
            )
        stop_px = stop_px or self.size
        start_px = 4 if start_features is None else start_features.shape[-1] * 2
        if not 4 <= start_px <= stop_px <= self.size:
            raise ValueError(f"cannot run blocks {start_px}..{stop_px} px of a {self.size} px generator")
        if noise is None:
            noise = self.fixed_noise()
        elif isinstance(noise, torch.Generator):
            noise = [noise] * self.num_layers

        layout = self.ops.memory_format(latent.device)
        if start_features is None:
            start = self.input(latent.shape[0]).contiguous(memory_format=layout)
            out = self.conv1(start, latent[:, 0], noise[0])
            skip = self.to_rgb1(out, latent[:, 1], None)
        else:
            out, skip = start_features.contiguous(memory_format=layout), start_image
        res = 8
        for index, to_rgb in enumerate(self.to_rgbs):
            if res > stop_px:
                break
            if res >= start_px:
                row = 2 * index + 1  # rows 2k-1, 2k, 2k+1 of the block k = index + 1
                out = self.convs[2 * index](out, latent[:, row], noise[row])
                out = self.convs[2 * index + 1](out, latent[:, row + 1], noise[row + 1])
                skip = to_rgb(out, latent[:, row + 2], skip)
            res *= 2
        return Synthesis(image=skip.contiguous(), features=out)

    def forward(self, latent: torch.Tensor, noise: list[torch.Tensor] | torch.Generator | None = None) -> torch.Tensor:
        """Full synthesis: W+ (B, n_latent, style_dim) -> image (B, 3, size, size)."""
        return self.synthesis(latent, noise=noise).image

    def set_ops(self, ops: type) -> None:
        """Switch every resampling / activation op (e.g. to the reference formulation)."""
        for module in self.modules():
            if hasattr(module, "ops"):
                module.ops = ops


# ---------------------------------------------------------------------------------------


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, torch.Tensor]:
    """Read ``ffhq.pt`` (``g_ema``, ``latent_avg``) -> (generator in eval mode, mean latent (1, style_dim)).

    The architecture is read off the weights: size from the last noise buffer, style width
    from the mapping, depth from the number of mapping layers, channel multiplier from the
    64 px block.
    """
    checkpoint = read_checkpoint(path)
    state = checkpoint_entry(checkpoint, "g_ema", path)
    latent_avg = checkpoint_entry(checkpoint, "latent_avg", path)
    try:
        style_dim = state["style.1.weight"].shape[1]
        n_mlp = sum(1 for key in state if key.startswith("style.") and key.endswith(".weight"))
        noise_keys = [key for key in state if key.startswith("noises.noise_")]
        size = max(state[key].shape[-1] for key in noise_keys)
        channel_multiplier = state["convs.6.conv.weight"].shape[1] // 256 if size >= 64 else 2
    except (KeyError, IndexError, ValueError) as error:
        from ..errors import CheckpointError

        raise CheckpointError(f"{path} is not a StyleGAN2 generator in rosinality's layout ({error}).") from error
    generator = Generator(size, style_dim, n_mlp, max(1, channel_multiplier))
    load_strict(generator, state, path)
    latent_avg = torch.as_tensor(latent_avg, dtype=torch.float32).reshape(1, -1)
    return generator.eval().requires_grad_(False).to(device), latent_avg.to(device)


def small_generator(
    seed: int = 0, size_px: int = 64, style_dim: int = 64, channel_max: int = 32, n_mlp: int = 2
) -> Generator:
    """A narrow random generator of the official architecture, for tests and ``--smoke``."""
    with seeded(seed), torch.no_grad():
        generator = Generator(size_px, style_dim, n_mlp, channel_max=channel_max)
        for module in generator.modules():  # trained generators use their noise; zero weights would ignore it
            if isinstance(module, NoiseInjection):
                module.weight.normal_(0, 0.1)
    return generator.eval().requires_grad_(False)


@checker("ffhq.pt")
def check_generator_file(path: Path) -> str:
    generator, _ = load_generator(path)
    return f"{generator.size} px generator"
