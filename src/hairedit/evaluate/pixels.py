"""Preservation: how much an edit changed the picture outside the hair.

The edit region is the hair before ∪ the hair after, grown by a margin; everything else should
be untouched. PSNR, SSIM and LPIPS compare the two images on the rest only, on the whole photo
and on the aligned crop. Images are (H, W, 3) uint8 RGB, masks (H, W) bool, True where compared.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..face.align import CropTransform
from ..face.paste import grow_edit_region
from ..networks.vgg import LPIPS

PEAK = 255.0  # the largest pixel value: PSNR's signal
LPIPS_MAX_PX = 512  # LPIPS sees images area-downsized to at most this on their long side
# SSIM as Wang et al. 2004: an 11 px Gaussian window of sigma 1.5, K1 0.01, K2 0.03.
SSIM_SIGMA = 1.5
SSIM_WINDOW_PX = 11
SSIM_K1, SSIM_K2 = 0.01, 0.03


def edit_region(hair_before: np.ndarray, hair_after: np.ndarray) -> np.ndarray:
    """(S, S) bool: where an edit may change the crop, the union of the two hair masks
    (S, S) bool grown as the pipeline grows it (:func:`~hairedit.face.paste.grow_edit_region`)."""
    return grow_edit_region(hair_before | hair_after)


def region_in_photo(region: np.ndarray, transform: CropTransform) -> np.ndarray:
    """The crop region (S, S) bool carried into the photo: (H, W) bool, False beyond the crop."""
    crop_to_photo = transform.for_size(region.shape[0]).crop_to_photo
    width, height = transform.photo_size
    warped = cv2.warpAffine(region.astype(np.uint8), crop_to_photo, (width, height), flags=cv2.INTER_NEAREST)
    return warped.astype(bool)


def masked_psnr(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> float:
    """PSNR in dB over the kept pixels (every channel); inf when they are equal, nan when none is kept."""
    if not keep.any():
        return float("nan")
    difference = a[keep].astype(np.float64) - b[keep].astype(np.float64)
    return psnr_of_mse(float(np.mean(difference**2)))


def psnr_of_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error in pixel values squared; inf for 0."""
    return float("inf") if mse == 0 else float(10 * np.log10(PEAK**2 / mse))


def mse_of_psnr(psnr: float) -> float:
    """The mean squared error a PSNR in dB stands for; 0 for inf."""
    return float(PEAK**2 * 10 ** (-psnr / 10))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) SSIM of each pixel's Gaussian window, averaged over the channels.

    The same numbers as ``skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255, full=True)``, in float32 one
    channel at a time, so that a 50-megapixel photo needs a few arrays of its size, not dozens.
    """
    c1, c2 = (SSIM_K1 * 255) ** 2, (SSIM_K2 * 255) ** 2
    total = np.zeros(a.shape[:2], np.float32)
    for channel in range(a.shape[2]):
        x, y = a[..., channel].astype(np.float32), b[..., channel].astype(np.float32)
        mean_x, mean_y = _window_mean(x), _window_mean(y)
        var_x = _window_mean(x * x) - mean_x * mean_x
        var_y = _window_mean(y * y) - mean_y * mean_y
        covariance = _window_mean(x * y) - mean_x * mean_y
        numerator = (2 * mean_x * mean_y + c1) * (2 * covariance + c2)
        denominator = (mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2)
        total += numerator / denominator
    return total / a.shape[2]


def _window_mean(values: np.ndarray) -> np.ndarray:
    size = (SSIM_WINDOW_PX, SSIM_WINDOW_PX)
    return cv2.GaussianBlur(values, size, SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def masked_ssim(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> float:
    """Mean SSIM over the kept pixels: 1 when the images are equal there, nan when none is kept."""
    if not keep.any():
        return float("nan")
    if np.array_equal(a[keep], b[keep]):
        return 1.0  # exactly, not to float32 rounding
    return float(ssim_map(a, b)[keep].mean(dtype=np.float64))


@torch.no_grad()
def masked_lpips(lpips: LPIPS, a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> float:
    """LPIPS of the kept pixels: the mean of the spatial LPIPS map (:meth:`LPIPS.spatial`) over
    them, so that a pair scores the same however large the region left out. Both images are set
    to grey where not kept first, so that a change there (the new hair) cannot reach the kept
    pixels through the network's receptive fields. 0 when the images are equal where kept, nan
    when none is. Images larger than ``LPIPS_MAX_PX`` are area-downsized first, and the kept
    pixels weighted by the fraction of each downsized pixel they cover."""
    if not keep.any():
        return float("nan")
    device = next(lpips.parameters()).device
    (first, weights), (second, _) = (_lpips_input(image, keep) for image in (a, b))
    spatial = lpips.spatial(first.to(device), second.to(device))[0, 0].double().cpu().numpy()
    return float((spatial * weights).sum() / weights.sum())


def _lpips_input(image: np.ndarray, keep: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """(1, 3, h, w) in [-1, 1], 0 where not kept, at most LPIPS_MAX_PX on its long side; and
    (h, w) float64: the fraction of each of its pixels that is kept."""
    values = image.astype(np.float32) / 127.5 - 1
    values *= keep[..., None]
    weights = keep.astype(np.float64)
    scale = LPIPS_MAX_PX / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        values = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
        weights = cv2.resize(weights, size, interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(values)).permute(2, 0, 1).unsqueeze(0), weights


def whole_photo(before: np.ndarray, after: np.ndarray) -> dict:
    """``psnr`` and ``ssim`` of the whole photos: no network, no region."""
    everywhere = np.ones(before.shape[:2], dtype=bool)
    return {"psnr": masked_psnr(before, after, everywhere), "ssim": masked_ssim(before, after, everywhere)}


def whole_crop(before: np.ndarray, after: np.ndarray, lpips: LPIPS | None = None) -> dict:
    """``psnr_crop`` and, given the network, ``lpips_crop``: every pixel of the aligned crops
    (HairFastGAN's reconstruction measures, on its aligned images)."""
    everywhere = np.ones(before.shape[:2], dtype=bool)
    metrics = {"psnr_crop": masked_psnr(before, after, everywhere)}
    if lpips is not None:
        metrics["lpips_crop"] = masked_lpips(lpips, before, after, everywhere)
    return metrics


def preservation(before: np.ndarray, after: np.ndarray, keep: np.ndarray, suffix: str = "",
                 lpips: LPIPS | None = None) -> dict:
    """``psnr_outside``, ``ssim_outside`` and, given the network, ``lpips_outside`` (each name +
    ``suffix``) of two images on the kept pixels."""
    metrics = {
        f"psnr_outside{suffix}": masked_psnr(before, after, keep),
        f"ssim_outside{suffix}": masked_ssim(before, after, keep),
    }
    if lpips is not None:
        metrics[f"lpips_outside{suffix}"] = masked_lpips(lpips, before, after, keep)
    return metrics
