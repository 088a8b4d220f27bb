"""The official losses that are not a network's own (Lab colour, background, masks, landmarks).
CLIP, LPIPS and the Gram style loss live beside their networks, the P-norm prior in
:mod:`hairedit.latent_pca`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .labels import HAIR, N_CLASSES, PAINTABLE_CLASSES
from .networks.fan import JAW, NOSE


def painted_mask_loss(logits: torch.Tensor, painted_labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of parser logits (B, 16, p, p) against painted labels (B, p, p); only
    background, face, ear and hair count (weight 1, every other class 0)."""
    weight = torch.zeros(N_CLASSES, device=logits.device)
    weight[list(PAINTABLE_CLASSES)] = 1
    return F.cross_entropy(logits, painted_labels, weight=weight)


def hair_mask(parser, image: torch.Tensor) -> torch.Tensor:
    """Where the face parser sees hair in ``image`` (B, 3, S, S): (B, 1, S, S) float in {0, 1}."""
    return (parser(image).labels_full() == HAIR).float()


def landmark_loss(source: torch.Tensor, generated: torch.Tensor, jaw_and_nose_only: bool) -> torch.Tensor:
    """MSE between (B, 68, h, w) heatmaps: jaw + nose (text proxy) or all points (reference)."""
    if jaw_and_nose_only:
        return F.mse_loss(generated[:, JAW], source[:, JAW]) + F.mse_loss(generated[:, NOSE], source[:, NOSE])
    return F.mse_loss(generated, source)


def background_loss(target: torch.Tensor, image: torch.Tensor, target_labels: torch.Tensor,
                    image_labels: torch.Tensor) -> torch.Tensor:
    """MSE outside the hair of both images (labels (B, 1, H, W) at the images' size)."""
    keep = ((target_labels != HAIR) & (image_labels != HAIR)).float()
    return F.mse_loss(target * keep, image * keep)


_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> CIE Lab, with the official white point normalisation
    (each XYZ row divided by its sum) and no gamma linearisation, as the official code."""
    matrix = _RGB_TO_XYZ.to(rgb)
    xyz = torch.einsum("nc,bchw->bnhw", matrix, rgb) / matrix.sum(1).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12).pow(1 / 3), 7.787 * xyz + 0.137931)
    lightness = torch.where(xyz[:, 1] > 0.008856, 116 * f[:, 1] - 16, 903.3 * xyz[:, 1])
    return torch.stack([lightness, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def mean_hair_official_lab(image: torch.Tensor, hair_mask: torch.Tensor) -> torch.Tensor:
    """Mean Lab colour (B, 3, 1, 1) of ``image`` [-1, 1] inside ``hair_mask`` (B, 1, H, W), in the
    official code's Lab (:func:`rgb_to_lab`), which the colour loss needs; ``hairedit eval``
    measures in true CIE Lab instead (``evaluate.agreement.mean_hair_cie_lab``)."""
    lab = rgb_to_lab((image + 1) / 2) * hair_mask
    area = hair_mask.sum((2, 3), keepdim=True)
    return lab.sum((2, 3), keepdim=True) / torch.where(area == 0, torch.ones_like(area), area)


def lab_color_loss(target_lab: torch.Tensor, image: torch.Tensor, hair_mask: torch.Tensor) -> torch.Tensor:
    """L1 between a target mean Lab colour (B, 3, 1, 1) and the image's mean hair colour."""
    return F.l1_loss(mean_hair_official_lab(image, hair_mask), target_lab)


def rgb_target_lab(rgb: tuple[int, int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The Lab colour (1, 3, 1, 1) of an 8-bit RGB triple."""
    pixel = torch.tensor(rgb, dtype=torch.float32, device=device).view(1, 3, 1, 1) / 255
    return rgb_to_lab(pixel)
