"""Did the edit give what was asked? Colour, text and shape agreement of the new hair.

Crops are the aligned (S, S, 3) uint8 RGB crops; hair masks (S, S) bool in the same coordinates.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from skimage.color import deltaE_ciede2000, rgb2lab

from ..labels import HAIR
from ..networks.clip import CLIPGuide
from ..stages.inversion import image_tensor


def mean_hair_cie_lab(crop: np.ndarray, hair: np.ndarray) -> np.ndarray | None:
    """(3,) mean CIE Lab (sRGB, D65) of the hair pixels; None where there is no hair. True CIE Lab,
    for CIEDE2000, not the official loss's (``losses.mean_hair_official_lab``)."""
    if not hair.any():
        return None
    return rgb2lab(crop[hair][None].astype(np.float64) / 255)[0].mean(0)


def rgb_lab(rgb: tuple[int, int, int]) -> np.ndarray:
    """(3,) CIE Lab of an 8-bit sRGB colour."""
    return rgb2lab(np.array([[rgb]], dtype=np.float64) / 255)[0, 0]


def color_difference(target_lab: np.ndarray | None, crop: np.ndarray, hair: np.ndarray) -> float:
    """CIEDE2000 between the mean colour of the hair and ``target_lab``: 0 is exact, about 2.3 a
    just-noticeable difference; nan where the crop or the target has no hair."""
    measured = mean_hair_cie_lab(crop, hair)
    if measured is None or target_lab is None:
        return float("nan")
    return float(deltaE_ciede2000(measured, target_lab))


@torch.no_grad()
def clip_score(clip: CLIPGuide, crop: np.ndarray, text: str) -> float:
    """CLIP score, ``100 * max(cos, 0)`` between the crop's and the text's CLIP embeddings
    (Hessel et al. 2021 without their 2.5 weight, as torchmetrics): higher agrees better."""
    image = image_tensor(crop, crop.shape[0], clip.mean.device)
    image_features = F.normalize(clip.encode_image(image), dim=-1)
    text_features = F.normalize(clip.encode_text([text]), dim=-1)
    return float(100 * (image_features * text_features).sum().clamp_min(0))


def mask_iou(hair: np.ndarray, painted_labels: np.ndarray) -> float:
    """IoU of the hair (S, S) bool with the hair painted in ``painted_labels`` (P, P) labels,
    at the painted mask's size; 1 when neither has hair."""
    size = painted_labels.shape[0]
    hair = cv2.resize(hair.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
    painted = painted_labels == HAIR
    union = (hair | painted).sum()
    return 1.0 if union == 0 else float((hair & painted).sum() / union)


def sketch_coverage(hair: np.ndarray, strokes: np.ndarray) -> float:
    """The fraction of the stroke pixels (``strokes`` (P, P), nonzero on strokes) that the
    hair (S, S) bool covers; nan for an empty sketch."""
    drawn = strokes > 0
    if not drawn.any():
        return float("nan")
    size = strokes.shape[0]
    hair = cv2.resize(hair.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
    return float(hair[drawn].mean())
