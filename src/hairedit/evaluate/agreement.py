"""Did the edit give what was asked? Colour, text and shape agreement of the new hair.

Crops are the aligned (S, S, 3) uint8 RGB crops; hair masks (S, S) bool in the same coordinates.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from ..labels import HAIR
from ..networks.clip import CLIP_SIZE_PX, CLIPGuide


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


def clip_pixels(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, 3, 224, 224) in [-1, 1]: CLIP's own preprocessing of an (H, W, 3) uint8 image, as
    OpenAI's ``clip.load`` and transformers' ``CLIPImageProcessor`` do it: the shorter side
    resized to 224 px by PIL's bicubic filter, the centre 224 x 224 cut out."""
    picture = Image.fromarray(image)
    scale = CLIP_SIZE_PX / min(picture.size)
    size = tuple(max(CLIP_SIZE_PX, int(side * scale)) for side in picture.size)
    picture = picture.resize(size, Image.BICUBIC)
    left, top = (size[0] - CLIP_SIZE_PX) // 2, (size[1] - CLIP_SIZE_PX) // 2
    picture = picture.crop((left, top, left + CLIP_SIZE_PX, top + CLIP_SIZE_PX))
    return torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)


@torch.no_grad()
def clip_score(clip: CLIPGuide, crop: np.ndarray, text: str) -> float:
    """CLIP score, ``100 * max(cos, 0)`` between the crop's and the text's CLIP embeddings
    (Hessel et al. 2021 without their 2.5 weight, as torchmetrics), the crop preprocessed as
    CLIP's own (:func:`clip_pixels`): higher agrees better."""
    image_features = F.normalize(clip.embed_pixels(clip_pixels(crop, clip.mean.device)), dim=-1)
    text_features = F.normalize(clip.encode_text([text]), dim=-1)
    return float(100 * (image_features * text_features).sum().clamp_min(0))


def fid_clip_features(clip: CLIPGuide):
    """The FID_CLIP network of HairFastGAN's evaluation (``scripts/fid_metric.py``): images
    (B, 3, H, W) in [-1, 1] -> (B, 512) CLIP ViT-B/32 image embeddings of the images brought to
    224 px by adaptive average pooling."""
    return lambda images: clip.embed_pixels(F.adaptive_avg_pool2d(images, CLIP_SIZE_PX))


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
