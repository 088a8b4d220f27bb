"""BiSeNet face parser (ResNet-18 context path, 16 classes), the network behind ``seg.pth``.

Key names follow the face-parsing.PyTorch model as used by Barbershop and HairCLIPv2: the
context path ``cp.*`` (with ``cp.resnet.*``), the fusion module ``ffm.*`` and the head
``conv_out.*``. The official loader ignores the auxiliary heads ``conv_out16`` /
``conv_out32`` (they exist only for training), so :func:`load_parser` drops them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict, read_checkpoint
from ..labels import HAIR, N_CLASSES
from ..resample import bicubic_downsample
from ..weights.checks import checker
from .random_init import seeded
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUXILIARY_HEADS = ("conv_out16", "conv_out32")


class ConvBNReLU(nn.Module):
    def __init__(self, in_chan: int, out_chan: int, kernel_size: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_chan, out_chan, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_chan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, in_chan: int, out_chan: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chan, out_chan, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chan)
        self.conv2 = nn.Conv2d(out_chan, out_chan, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chan)
        self.downsample = None
        if in_chan != out_chan or stride != 1:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_chan, out_chan, 1, stride, bias=False), nn.BatchNorm2d(out_chan)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + residual)


def _layer(in_chan: int, out_chan: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_chan, out_chan, stride), BasicBlock(out_chan, out_chan, 1))


class Resnet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        return feat8, feat16, self.layer4(feat16)


class AttentionRefinement(nn.Module):
    def __init__(self, in_chan: int, out_chan: int):
        super().__init__()
        self.conv = ConvBNReLU(in_chan, out_chan)
        self.conv_atten = nn.Conv2d(out_chan, out_chan, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_chan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        attention = torch.sigmoid(self.bn_atten(self.conv_atten(feat.mean((2, 3), keepdim=True))))
        return feat * attention


class ContextPath(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet = Resnet18()
        self.arm16 = AttentionRefinement(256, 128)
        self.arm32 = AttentionRefinement(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, kernel_size=1, padding=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat8, feat16, feat32 = self.resnet(x)
        global_context = self.conv_avg(feat32.mean((2, 3), keepdim=True))
        feat32_sum = self.arm32(feat32) + global_context  # broadcast == nearest upsampling of a 1x1 map
        feat32_up = self.conv_head32(F.interpolate(feat32_sum, feat16.shape[2:], mode="nearest"))
        feat16_sum = self.arm16(feat16) + feat32_up
        feat16_up = self.conv_head16(F.interpolate(feat16_sum, feat8.shape[2:], mode="nearest"))
        return feat8, feat16_up


class FeatureFusion(nn.Module):
    def __init__(self, in_chan: int, out_chan: int):
        super().__init__()
        self.convblk = ConvBNReLU(in_chan, out_chan, kernel_size=1, padding=0)
        self.conv1 = nn.Conv2d(out_chan, out_chan // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_chan // 4, out_chan, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        feat = self.convblk(torch.cat([spatial, context], dim=1))
        attention = torch.sigmoid(self.conv2(F.relu(self.conv1(feat.mean((2, 3), keepdim=True)))))
        return feat * attention + feat


class OutputHead(nn.Module):
    def __init__(self, in_chan: int, mid_chan: int, n_classes: int):
        super().__init__()
        self.conv = ConvBNReLU(in_chan, mid_chan)
        self.conv_out = nn.Conv2d(mid_chan, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """Normalised image (B, 3, H, W) -> logits (B, n_classes, H, W).

    The ResNet's 1/8 features stand in for the spatial path, as in the official model.
    """

    def __init__(self, n_classes: int = N_CLASSES):
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusion(256, 256)
        self.conv_out = OutputHead(256, 256, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat8, context8 = self.cp(x)
        logits = self.conv_out(self.ffm(feat8, context8))
        return F.interpolate(logits, x.shape[2:], mode="bilinear", align_corners=True)


@dataclass
class Parse:
    """Parser output for images of ``size_px`` (H) px.

    logits: (B, 16, p, p), at the parser's input size p (512 officially; ``seg(img)[1]``).
    """

    logits: torch.Tensor
    size_px: int

    @property
    def logits_full(self) -> torch.Tensor:
        """(B, 16, H, H), at the image's own size (the official ``seg(img)[0]``), computed on use."""
        return F.adaptive_avg_pool2d(self.logits, (self.size_px, self.size_px))

    def labels_full(self) -> torch.Tensor:
        """The class of each pixel at the image's size, (B, 1, H, H) long: ``logits_full``'s argmax.
        Pooled upward by a whole factor, each logit is repeated as it is, so the labels at the
        parser's size, repeated, are the same without the full-size logits (64 MB at 1024 px)."""
        labels = self.logits.argmax(1, keepdim=True)
        parser_px = labels.shape[-1]
        if self.size_px % parser_px:
            return self.logits_full.argmax(1, keepdim=True)
        factor = self.size_px // parser_px
        return labels.repeat_interleave(factor, 2).repeat_interleave(factor, 3)


class FaceParser(nn.Module):
    """BiSeNet with the official input convention of HairCLIPv2 / Barbershop.

    Image in [-1, 1] -> [0, 1] -> bicubic downsampling to ``input_size_px`` -> ImageNet
    mean / std -> logits; the full-size logits are the parser-size logits repeated
    (adaptive average pooling upward, as the official ``magnify``).
    """

    def __init__(self, net: BiSeNet, input_size_px: int = 512):
        super().__init__()
        self.net = net
        self.input_size_px = input_size_px
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> Parse:
        size = image.shape[-1]
        x = (image + 1) / 2
        if size > self.input_size_px:
            x = bicubic_downsample(x, size // self.input_size_px)
        if x.shape[-1] != self.input_size_px:
            x = F.interpolate(x, (self.input_size_px, self.input_size_px), mode="bicubic", align_corners=False)
        logits = self.net((x - self.mean) / self.std)
        return Parse(logits, size)

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        """Per-pixel class (B, 1, H, W) long, at the image's size."""
        return self(image).labels_full()

    def hair_mask(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) float, 1 where the parser sees hair."""
        return (self.labels(image) == HAIR).float()


def load_parser(path: str | Path, device: str | torch.device = "cpu", input_size_px: int = 512) -> FaceParser:
    """Read ``seg.pth`` (a bare state dict) into a :class:`FaceParser` in eval mode."""
    state = read_checkpoint(path)
    if not isinstance(state, dict):
        from ..errors import CheckpointError

        raise CheckpointError(f"{path} is not a BiSeNet state dict.")
    net = BiSeNet(N_CLASSES)
    auxiliary = [key for key in state if key.split(".")[0] in AUXILIARY_HEADS]
    load_strict(net, state, path, ignored_keys=auxiliary)
    return FaceParser(net, input_size_px).eval().requires_grad_(False).to(device)


def small_parser(seed: int = 0, input_size_px: int = 64) -> FaceParser:
    """The official architecture with random weights, fed small images (tests, ``--smoke``)."""
    with seeded(seed):
        return FaceParser(BiSeNet(N_CLASSES), input_size_px).eval().requires_grad_(False)


@checker("seg.pth")
def check_parser_file(path: Path) -> str:
    load_parser(path)
    return "BiSeNet, 16 classes"
