"""VGG16 features, LPIPS v0.1 (VGG, learned linear layers) and the masked Gram style loss.

Key names are torchvision's (``features.N.weight``) for VGG16 and the LPIPS package's
(``lin0.model.1.weight`` ...) for the linear layers, so the published files load strictly.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict, read_checkpoint

# torchvision's VGG16 `features`: channel widths, "M" for max pooling.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
LPIPS_LAYERS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
STYLE_LAYERS = (3, 8, 15, 22)  # HairCLIPv2's Gram style loss
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class VGG16Features(nn.Module):
    """torchvision's ``vgg16().features``; ``width_divisor`` divides every channel count (tests)."""

    def __init__(self, width_divisor: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                out_channels = item // width_divisor
                layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=False)]
                in_channels = out_channels
        self.features = nn.Sequential(*layers)

    def channels_at(self, index: int) -> int:
        """Channels of the activation after layer ``index``."""
        convs = [m for m in self.features[: index + 1] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def activations(self, x: torch.Tensor, indices: tuple[int, ...]) -> list[torch.Tensor]:
        """Run up to max(indices) and return the outputs of those layers."""
        out = []
        for index, layer in enumerate(self.features[: max(indices) + 1]):
            x = layer(x)
            if index in indices:
                out.append(x)
        return out


class LPIPSLinear(nn.Module):
    """The learned 1x1 weights of LPIPS; its keys are those of the published ``vgg.pth``."""

    def __init__(self, channels: list[int]):
        super().__init__()
        for index, width in enumerate(channels):
            layer = nn.Module()
            layer.model = nn.Sequential(nn.Dropout(), nn.Conv2d(width, 1, 1, bias=False))
            setattr(self, f"lin{index}", layer)

    def forward(self, index: int, squared_difference: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"lin{index}").model(squared_difference)


class LPIPS(nn.Module):
    """LPIPS v0.1, VGG variant: ``lpips(a, b)`` on [-1, 1] images (B, 3, H, W) -> (B,).

    Scaling layer, unit-normalised features of five VGG stages, squared differences,
    learned 1x1 weights, spatial mean, sum over stages (the official ``net-lin``).
    """

    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.net = vgg
        self.linear = LPIPSLinear([vgg.channels_at(layer) for layer in LPIPS_LAYERS])
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        feats_a = self.net.activations((a - self.shift) / self.scale, LPIPS_LAYERS)
        feats_b = self.net.activations((b - self.shift) / self.scale, LPIPS_LAYERS)
        total = 0
        for index, (fa, fb) in enumerate(zip(feats_a, feats_b)):
            fa = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            fb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + self.linear(index, (fa - fb) ** 2).mean((2, 3))
        return total.view(-1)


class MaskedStyleLoss(nn.Module):
    """HairCLIPv2's hair style loss: Gram matrices of masked VGG16 activations.

    ``loss(image_a, image_b, mask_a, mask_b)``: images (1, 3, H, W) in [-1, 1] (no ImageNet
    normalisation, as the official code), masks (1, 1, H, W) in {0, 1}. Images are masked,
    resized to 256 px, their VGG ReLU activations at layers 3, 8, 15, 22 masked again (mask
    resized by nearest), Gram matrices normalised by N*C*H*W, and the MSE between them
    averaged over the layers. Gradients flow to ``image_b`` only.
    """

    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.net = vgg

    @staticmethod
    def _gram(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        flat = x.reshape(n * c, h * w)
        return flat @ flat.t() / (n * c * h * w)

    def forward(
        self, image_a: torch.Tensor, image_b: torch.Tensor, mask_a: torch.Tensor, mask_b: torch.Tensor
    ) -> torch.Tensor:
        size = image_a.shape[-1]
        a = F.interpolate(image_a * mask_a, scale_factor=256 / size, mode="bilinear", align_corners=True)
        b = F.interpolate(image_b * mask_b, scale_factor=256 / size, mode="bilinear", align_corners=True)
        with torch.no_grad():
            acts_a = self.net.activations(a, STYLE_LAYERS)
        acts_b = self.net.activations(b, STYLE_LAYERS)
        loss = 0
        for act_a, act_b in zip(acts_a, acts_b):
            scale_a = act_a.shape[-1] / mask_a.shape[-1]
            scale_b = act_b.shape[-1] / mask_b.shape[-1]
            masked_a = act_a * F.interpolate(mask_a, scale_factor=scale_a, mode="nearest")
            masked_b = act_b * F.interpolate(mask_b, scale_factor=scale_b, mode="nearest")
            loss = loss + F.mse_loss(self._gram(masked_a), self._gram(masked_b))
        return loss / len(STYLE_LAYERS)


def load_vgg16(path: str | Path, device: str | torch.device = "cpu") -> VGG16Features:
    """Read torchvision's ``vgg16-397923af.pth``; the classifier is not needed and dropped by name."""
    state = read_checkpoint(path)
    vgg = VGG16Features()
    classifier = [key for key in state if key.startswith("classifier.")]
    load_strict(vgg, state, path, ignored_keys=classifier)
    return vgg.eval().requires_grad_(False).to(device)


def lpips_with(backbone: VGG16Features, lin_path: str | Path | None) -> LPIPS:
    """LPIPS on ``backbone`` (shared with the style loss) and the linear layers of ``lin_path``;
    without a file, random non-negative linear weights like the trained ones (tests)."""
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
    torch.manual_seed(seed)
    return VGG16Features(width_divisor).eval().requires_grad_(False)

