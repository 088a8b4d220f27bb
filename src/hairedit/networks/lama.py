"""LaMa inpainting generator (big-lama): a ResNet of fast Fourier convolutions (FFC).

Written from the LaMa paper (Suvorov et al., WACV 2022) and the released configuration of
big-lama: a 7x7 convolution, three stride-2 convolutions, 18 residual blocks of FFCs whose
channels are split into a local part (3x3 convolutions) and a global part (3/4 of the
channels; a 1x1 convolution in the 2-D Fourier domain, ``torch.fft``), three transposed
convolutions back up, a 7x7 convolution and a sigmoid. Every convolution pads by reflection.

Key names are the official ``FFCResNetGenerator``'s (``model.<index>...``), so the
generator's part of the released Lightning checkpoint (``big-lama/models/best.ckpt``,
``state_dict`` keys ``generator.*``) loads strictly; the checkpoint's other parts
(discriminator, loss networks, optimiser states, hyper-parameters) are not needed for
inference and are left out by name.

The official input convention (:func:`lama_inpaint`): an RGB image in [0, 1] with the hole
set to 0, the binary hole mask as a fourth channel, sides padded to a multiple of 8 by
symmetric reflection; the output is kept only inside the hole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint
from ..weights.checks import checker
from ..weights.registry import LAMA_FILE
from .random_init import seeded

GENERATOR_PREFIX = "generator."
SIDE_MULTIPLE_PX = 8  # the official prediction config's pad_out_to_modulo


@dataclass(frozen=True)
class LamaArchitecture:
    """big-lama's generator (configs/training/big-lama.yaml, ``generator`` section)."""

    input_channels: int = 4  # RGB + mask
    output_channels: int = 3
    base_channels: int = 64  # ngf
    downsamplings: int = 3
    blocks: int = 18
    global_ratio: float = 0.75  # share of the residual blocks' channels in the Fourier branch
    max_channels: int = 1024


Pair = tuple[torch.Tensor, torch.Tensor | None]  # (local channels, global channels or None)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=False, padding_mode="reflect")


class FourierUnit(nn.Module):
    """1x1 convolution + batch norm + ReLU on the real and imaginary parts of the 2-D spectrum."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_layer = nn.Conv2d(2 * channels, 2 * channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        # The transforms in float32 at least: under autocast the convolutions hand on bf16 or
        # fp16, which torch.fft and complex tensors do not take (a no-op for float32 and float64).
        dtype = x.dtype
        spectrum = torch.fft.rfft2(x.to(torch.promote_types(dtype, torch.float32)), norm="ortho")
        # Channel 2c holds channel c's real part, 2c + 1 its imaginary part.
        parts = torch.stack((spectrum.real, spectrum.imag), dim=2).flatten(1, 2)
        parts = F.relu(self.bn(self.conv_layer(parts)))
        parts = parts.unflatten(1, (-1, 2))
        real, imaginary = (parts[:, :, i].to(spectrum.real.dtype).contiguous() for i in (0, 1))
        return torch.fft.irfft2(torch.complex(real, imaginary), s=(height, width), norm="ortho").to(dtype)


class SpectralTransform(nn.Module):
    """The global-to-global path: 1x1 down to half the channels, the Fourier unit, a residual
    sum, 1x1 back up (big-lama uses no local Fourier unit)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        half = out_channels // 2
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        self.fu = FourierUnit(half)
        self.conv2 = nn.Conv2d(half, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


class FFC(nn.Module):
    """A convolution over (local, global) channel groups: local->local, local->global and
    global->local are ordinary convolutions; global->global is the spectral transform."""

    def __init__(self, in_channels, out_channels, kernel, ratio_in, ratio_out, stride=1, padding=0):
        super().__init__()
        in_global, out_global = int(in_channels * ratio_in), int(out_channels * ratio_out)
        in_local, out_local = in_channels - in_global, out_channels - out_global
        self.out_local, self.out_global = out_local, out_global

        def conv(cin: int, cout: int) -> nn.Conv2d | None:
            return _conv(cin, cout, kernel, stride, padding) if cin and cout else None

        self.convl2l = conv(in_local, out_local)
        self.convl2g = conv(in_local, out_global)
        self.convg2l = conv(in_global, out_local)
        self.convg2g = SpectralTransform(in_global, out_global) if in_global and out_global else None

    def forward(self, x: Pair | torch.Tensor) -> Pair:
        x_local, x_global = x if isinstance(x, tuple) else (x, None)

        def total(*terms: torch.Tensor | None) -> torch.Tensor | None:
            present = [term for term in terms if term is not None]
            return sum(present[1:], present[0]) if present else None

        def apply(layer: nn.Module | None, value: torch.Tensor | None) -> torch.Tensor | None:
            return None if layer is None or value is None else layer(value)

        out_local = total(apply(self.convl2l, x_local), apply(self.convg2l, x_global)) if self.out_local else None
        out_global = total(apply(self.convl2g, x_local), apply(self.convg2g, x_global)) if self.out_global else None
        return out_local, out_global


class FFCBlock(nn.Module):
    """FFC, then batch norm and ReLU on each group (the official ``FFC_BN_ACT``)."""

    def __init__(self, in_channels, out_channels, kernel, ratio_in, ratio_out, stride=1, padding=0):
        super().__init__()
        self.ffc = FFC(in_channels, out_channels, kernel, ratio_in, ratio_out, stride, padding)
        self.bn_l = nn.BatchNorm2d(self.ffc.out_local) if self.ffc.out_local else None
        self.bn_g = nn.BatchNorm2d(self.ffc.out_global) if self.ffc.out_global else None

    def forward(self, x: Pair) -> Pair:
        x_local, x_global = self.ffc(x)
        x_local = None if x_local is None else F.relu(self.bn_l(x_local))
        x_global = None if x_global is None else F.relu(self.bn_g(x_global))
        return x_local, x_global


class FFCResidualBlock(nn.Module):
    def __init__(self, channels: int, ratio: float):
        super().__init__()
        self.conv1 = FFCBlock(channels, channels, 3, ratio, ratio, padding=1)
        self.conv2 = FFCBlock(channels, channels, 3, ratio, ratio, padding=1)

    def forward(self, x: Pair) -> Pair:
        y_local, y_global = self.conv2(self.conv1(x))
        x_local, x_global = x
        return x_local + y_local, x_global + y_global


class _Concatenate(nn.Module):
    def forward(self, x: Pair) -> torch.Tensor:
        x_local, x_global = x
        return x_local if x_global is None else torch.cat((x_local, x_global), dim=1)


class LamaGenerator(nn.Module):
    """(B, 4, H, W) masked image + mask, H and W multiples of 2**downsamplings -> (B, 3, H, W) in [0, 1]."""

    def __init__(self, architecture: LamaArchitecture = LamaArchitecture()):
        super().__init__()
        arch = self.architecture = architecture

        def width(multiplier: float) -> int:
            return min(arch.max_channels, int(arch.base_channels * multiplier))

        layers: list[nn.Module] = [nn.ReflectionPad2d(3), FFCBlock(arch.input_channels, width(1), 7, 0, 0)]
        for level in range(arch.downsamplings):
            ratio_out = arch.global_ratio if level == arch.downsamplings - 1 else 0
            layers.append(FFCBlock(width(2**level), width(2 ** (level + 1)), 3, 0, ratio_out, stride=2, padding=1))
        bottleneck = width(2**arch.downsamplings)
        layers += [FFCResidualBlock(bottleneck, arch.global_ratio) for _ in range(arch.blocks)]
        layers.append(_Concatenate())
        for level in range(arch.downsamplings, 0, -1):
            out = width(2**level / 2)
            layers += [nn.ConvTranspose2d(width(2**level), out, 3, 2, 1, output_padding=1), nn.BatchNorm2d(out), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width(1), arch.output_channels, 7), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def lama_inpaint(generator: LamaGenerator, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The official prediction: image (B, 3, H, W) in [0, 1], H and W at least 8; hole
    (B, 1, H, W), > 0 where to fill.

    Returns (B, 3, H, W) in [0, 1]: the generator's output inside the hole, ``image`` outside.
    """
    hole = (hole > 0).to(image.dtype)
    height, width = image.shape[-2:]
    multiple = SIDE_MULTIPLE_PX
    pad_bottom, pad_right = -height % multiple, -width % multiple
    packed = torch.cat((image * (1 - hole), hole), dim=1)
    if pad_bottom or pad_right:
        packed = _pad_symmetric(packed, pad_bottom, pad_right)
    predicted = generator(packed)[..., :height, :width]
    return hole * predicted + (1 - hole) * image


def _pad_symmetric(x: torch.Tensor, bottom: int, right: int) -> torch.Tensor:
    """Pad at the bottom and right by mirroring with the edge pixel repeated (numpy's "symmetric",
    which the official dataset pads with); sides of at least ``SIDE_MULTIPLE_PX``."""
    if bottom:
        x = torch.cat((x, x[..., -bottom:, :].flip(-2)), dim=-2)
    if right:
        x = torch.cat((x, x[..., -right:].flip(-1)), dim=-1)
    return x


def generator_state(checkpoint: object, path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's tensors of a LaMa Lightning checkpoint, ``generator.`` taken off their names."""
    state = checkpoint_entry(checkpoint, "state_dict", path)
    return {key[len(GENERATOR_PREFIX) :]: value for key, value in state.items() if key.startswith(GENERATOR_PREFIX)}


def load_lama(path: str | Path, device: str | torch.device = "cpu") -> LamaGenerator:
    """Read big-lama's ``best.ckpt`` into a :class:`LamaGenerator` in eval mode."""
    checkpoint = read_checkpoint(path)
    with torch.device("meta"):
        generator = LamaGenerator()
    load_strict(generator, generator_state(checkpoint, path), path, assign=True)
    return generator.eval().requires_grad_(False).to(device)


@checker(LAMA_FILE)
def check_lama_file(path: Path) -> str:
    load_lama(path)
    return "LaMa big-lama generator"


def small_lama(seed: int = 0, base_channels: int = 8, blocks: int = 2) -> LamaGenerator:
    """big-lama's architecture, narrow and shallow, random weights (tests, ``--smoke``)."""
    with seeded(seed):
        generator = LamaGenerator(LamaArchitecture(base_channels=base_channels, blocks=blocks))
    return generator.eval().requires_grad_(False)
