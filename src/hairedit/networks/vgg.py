"""VGG16 features, LPIPS v0.1 (VGG, learned linear layers) and the masked Gram style loss.

Key names are torchvision's (``features.N.weight``) for VGG16 and the LPIPS package's
(``lin0.model.1.weight`` ...) for the linear layers, so the published files load strictly.
One VGG16 serves both losses, as in HairCLIPv2, whose two copies load the same ImageNet
weights. Barbershop's II2S inversion, which HairCLIPv2 reuses, ships its own copy of the
LPIPS code: the same ``net-lin`` / ``vgg`` v0.1 maths and a byte-identical ``vgg.pth``, so
:class:`LPIPS` serves it too.
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
from .layout import preferred_memory_format
from .random_init import seeded

# torchvision's VGG16 `features`: channel widths, "M" for max pooling.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
LPIPS_LAYERS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
STYLE_LAYERS = (3, 8, 15, 22)  # HairCLIPv2's Gram style loss: relu1_2 .. relu4_3
STYLE_SIZE_PX = 256  # the style loss compares images at this size
# LPIPS v0.1 scaling layer: maps [-1, 1] images to ImageNet-normalised ones.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class VGG16Features(nn.Module):
    """torchvision's ``vgg16().features`` (13 convolutions, ReLU, 5 max pools).

    Args:
        width_divisor: divides every channel count; 1 for the real network, more for tests.
    """

    def __init__(self, width_divisor: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                out_channels = item // width_divisor
                layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU()]
                in_channels = out_channels
        self.features = nn.Sequential(*layers)

    def channels_at(self, index: int) -> int:
        """Channels of the activation after layer ``index``."""
        convs = [m for m in self.features[: index + 1] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def activations(self, x: torch.Tensor, indices: tuple[int, ...]) -> list[torch.Tensor]:
        """Outputs of the layers ``indices`` (ascending) for ``x`` (B, 3, H, W); runs no further."""
        out = []
        x = x.contiguous(memory_format=preferred_memory_format(x.device))
        for index, layer in enumerate(self.features[: max(indices) + 1]):
            x = layer(x)
            if index in indices:
                out.append(x)
        return out


class LPIPSLinear(nn.Module):
    """The learned 1x1 weights of LPIPS, one per VGG stage; keys ``linN.model.1.weight``
    (index 0 is the dropout the published file was trained with)."""

    def __init__(self, channels: list[int]):
        super().__init__()
        for index, width in enumerate(channels):
            layer = nn.Module()
            layer.model = nn.Sequential(nn.Dropout(), nn.Conv2d(width, 1, 1, bias=False))
            setattr(self, f"lin{index}", layer)

    def forward(self, index: int, squared_difference: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"lin{index}").model(squared_difference)


def unit_normalise(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """(B, C, H, W) -> each pixel's feature vector divided by its norm (plus ``eps``, as LPIPS)."""
    return features / (features.pow(2).sum(1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """LPIPS v0.1, VGG variant (the official ``PerceptualLoss(model="net-lin", net="vgg")``).

    ``lpips(a, b)``: images (B, 3, H, W) in [-1, 1] -> distances (B,), 0 for equal images.
    Scaling layer, unit-normalised features of five VGG stages, squared differences,
    learned 1x1 weights, spatial mean, sum over stages.
    """

    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.net = vgg
        self.linear = LPIPSLinear([vgg.channels_at(layer) for layer in LPIPS_LAYERS])
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            shapes = f"{tuple(a.shape)}, {tuple(b.shape)}"
            raise ValueError(f"LPIPS needs two (B, 3, H, W) images of one shape. Got {shapes}.")
        return self.distance(self.features(a), self.features(b))

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """What LPIPS compares: the unit-normalised VGG activations of ``image`` (B, 3, H, W).

        A loop that compares with one fixed target computes the target's once and calls
        :meth:`distance`, which halves the VGG work of every step and changes no number.
        """
        activations = self.net.activations((image - self.shift) / self.scale, LPIPS_LAYERS)
        return [unit_normalise(a) for a in activations]

    def distance(self, features_a: list[torch.Tensor], features_b: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS (B,) between two images' :meth:`features`, of images of one shape."""
        if features_a[0].shape != features_b[0].shape:
            shapes = f"{tuple(features_a[0].shape)}, {tuple(features_b[0].shape)}"
            raise ValueError(f"LPIPS compares features of images of one shape. Got first stages {shapes}.")
        total = 0
        for index, (fa, fb) in enumerate(zip(features_a, features_b)):
            total = total + self.linear(index, (fa - fb) ** 2).mean((2, 3))
        return total.view(-1)

    def spatial(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) LPIPS of each pixel of two images (B, 3, H, W) in [-1, 1]: every stage's
        weighted squared difference resized to the image by bilinear interpolation and summed (the
        official ``spatial=True``). A masked mean of it scores a region alone."""
        features_a, features_b = self.features(a), self.features(b)
        total = 0
        for index, (fa, fb) in enumerate(zip(features_a, features_b)):
            stage = self.linear(index, (fa - fb) ** 2)
            total = total + F.interpolate(stage, size=a.shape[2:], mode="bilinear", align_corners=False)
        return total


def gram_matrix(activations: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*C, N*C) Gram matrix divided by N*C*H*W (the official normalisation)."""
    n, c, h, w = activations.shape
    flat = activations.reshape(n * c, h * w)
    return flat @ flat.t() / (n * c * h * w)


class MaskedStyleLoss(nn.Module):
    """HairCLIPv2's hair style loss (``TransferLossBuilder.style_loss``, criteria/style).

    ``style_loss(target, image, target_mask, image_mask) -> scalar``:

    - ``target``, ``image``: (1, 3, H, W) in [-1, 1], one size (the official code passes
      256 px images). They are multiplied by their masks, resized by ``256 / H`` (bilinear,
      ``align_corners=True``) and fed to VGG16 as they are: no ImageNet normalisation,
      as the official code.
    - ``target_mask``, ``image_mask``: (1, 1, H, W) in [0, 1] (hair masks). Each VGG
      activation (layers 3, 8, 15, 22) is multiplied again by its mask, resized by nearest.
    - the loss is the MSE between the Gram matrices (:func:`gram_matrix`) of the two masked
      activations, averaged over the four layers. The target's side runs without gradients;
      gradients reach ``image`` only.
    """

    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.net = vgg

    def forward(
        self, target: torch.Tensor, image: torch.Tensor, target_mask: torch.Tensor, image_mask: torch.Tensor
    ) -> torch.Tensor:
        if target.shape != image.shape:
            raise ValueError(f"Style loss images must have one shape. Got {tuple(target.shape)}, {tuple(image.shape)}.")
        scale = STYLE_SIZE_PX / target.shape[-2]
        with torch.no_grad():
            target_acts = self.net.activations(_resized(target * target_mask, scale), STYLE_LAYERS)
        image_acts = self.net.activations(_resized(image * image_mask, scale), STYLE_LAYERS)
        loss = 0
        for target_act, image_act in zip(target_acts, image_acts):
            target_gram = gram_matrix(target_act * _mask_like(target_mask, target_act))
            image_gram = gram_matrix(image_act * _mask_like(image_mask, image_act))
            loss = loss + F.mse_loss(image_gram, target_gram)
        return loss / len(STYLE_LAYERS)


def _resized(image: torch.Tensor, scale: float) -> torch.Tensor:
    return F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=True)


def _mask_like(mask: torch.Tensor, activation: torch.Tensor) -> torch.Tensor:
    """The mask brought to the activation's size by nearest resizing with a scale factor,
    exactly as the official ``prepare_mask``."""
    return F.interpolate(mask, scale_factor=activation.shape[-2] / mask.shape[-2], mode="nearest")


def load_vgg16(path: str | Path, device: str | torch.device = "cpu") -> VGG16Features:
    """Read torchvision's ``vgg16-397923af.pth``; the classifier is not needed and its
    ``classifier.*`` keys are dropped by name."""
    state = read_checkpoint(path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} is not a VGG16 state dict (found {type(state).__name__}).")
    vgg = VGG16Features()
    classifier = [key for key in state if key.startswith("classifier.")]
    load_strict(vgg, state, path, ignored_keys=classifier)
    return vgg.eval().requires_grad_(False).to(device)


def lpips_with(backbone: VGG16Features, lin_path: str | Path | None, seed: int = 0) -> LPIPS:
    """LPIPS on ``backbone`` (shared with the style loss) and the linear layers of
    ``lin_path``; without a file, random non-negative linear weights like trained ones,
    drawn from ``seed``."""
    with seeded(seed):
        lpips = LPIPS(backbone)
    if lin_path is None:
        with torch.no_grad():
            for parameter in lpips.linear.parameters():
                parameter.abs_()
    else:
        load_strict(lpips.linear, read_checkpoint(lin_path), lin_path)
    return lpips.eval().requires_grad_(False)


def load_lpips(vgg_path: str | Path, lin_path: str | Path, device: str | torch.device = "cpu") -> LPIPS:
    """VGG16 from ``vgg_path`` plus the LPIPS v0.1 linear layers from ``lin_path``."""
    return lpips_with(load_vgg16(vgg_path), lin_path).to(device)


def small_vgg16(seed: int = 0, width_divisor: int = 8) -> VGG16Features:
    """VGG16's structure with every width divided by ``width_divisor``, random weights."""
    with seeded(seed):
        return VGG16Features(width_divisor).eval().requires_grad_(False)


def small_lpips(seed: int = 0, width_divisor: int = 8) -> LPIPS:
    """LPIPS on :func:`small_vgg16` with random non-negative linear weights."""
    return lpips_with(small_vgg16(seed, width_divisor), None, seed)


@checker("vgg16-397923af.pth")
def check_vgg_file(path: Path) -> str:
    load_vgg16(path)
    return "VGG16 features"


@checker("lpips_vgg_v0.1.pth")
def check_lpips_file(path: Path) -> str:
    load_strict(LPIPS(VGG16Features()).linear, read_checkpoint(path), path)
    return "LPIPS v0.1 linear layers"
