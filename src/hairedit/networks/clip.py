"""CLIP ViT-B/32 (OpenAI weights) as HairCLIPv2's text and colour guide.

The model is ``transformers.CLIPModel`` built from a configuration written here (the
OpenAI ViT-B/32 numbers, QuickGELU) and loaded strictly from the Hugging Face
``openai/clip-vit-base-patch32`` ``model.safetensors``. :class:`CLIPGuide` adds the
official losses: ``CLIPLoss`` (one view, 1 - cosine) and ``AugCLIPLoss`` (8 views of which
7 randomly warped, spherical distance), with their image preprocessing.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE_PX = 224

VIT_B_32 = {
    "text_config": {
        "vocab_size": 49408,
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
    },
    "vision_config": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "image_size": 224,
        "patch_size": 32,
        "hidden_act": "quick_gelu",
    },
    "projection_dim": 512,
}


def build_clip_model(config: dict) -> nn.Module:
    from transformers import CLIPConfig, CLIPModel

    return CLIPModel(CLIPConfig(**config))


class CLIPGuide(nn.Module):
    """Image and text embeddings plus the official CLIP losses.

    Images are (B, 3, H, W) in [-1, 1], H a multiple of 32 for :meth:`loss` with one view.
    """

    def __init__(self, model: nn.Module, tokenizer):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Texts -> (B, D) projected text embeddings (not normalised)."""
        tokens = self.tokenizer(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
        device = self.mean.device
        features = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
        )
        return getattr(features, "pooler_output", features).float()

    def encode_image(self, image_224: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) in [-1, 1] -> (B, D) image embeddings, differentiable."""
        pixels = ((image_224 + 1) / 2 - self.mean) / self.std
        features = self.model.get_image_features(pixel_values=pixels)
        return getattr(features, "pooler_output", features).float()

    def loss(
        self,
        image: torch.Tensor,
        text_features: torch.Tensor,
        augmentations: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The official CLIP loss of ``image`` (1, 3, H, W) against one text embedding (1, D).

        ``augmentations == 1``: CLIPLoss, nearest 7x upsampling then average pooling to
        224 px, loss ``1 - cos`` (the official ``1 - logits / 100``).
        ``augmentations > 1``: AugCLIPLoss, adaptive average pooling to 224 px, the first
        copy as is and the others randomly warped, mean spherical distance.
        """
        if augmentations == 1:
            size = image.shape[-1]
            pooled = F.avg_pool2d(F.interpolate(image, scale_factor=7, mode="nearest"), size * 7 // CLIP_SIZE_PX)
            image_features = self.encode_image(pooled)
            return 1 - F.cosine_similarity(image_features, text_features).mean()
        pooled = F.adaptive_avg_pool2d(image, (CLIP_SIZE_PX, CLIP_SIZE_PX))
        views = torch.cat([pooled, random_warps(pooled.repeat(augmentations - 1, 1, 1, 1), generator)])
        image_features = F.normalize(self.encode_image(views), dim=-1)
        text = F.normalize(text_features, dim=-1)
        distance = (image_features - text).norm(dim=-1).div(2).arcsin().pow(2).mul(2)
        return distance.mean()


# ---------------------------------------------------------------------------------------
# The official augmentations (kornia RandomAffine(15, translate=0.1, p=0.7, border padding)
# then RandomPerspective(0.7, p=0.7)), in plain torch.


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _warp(images: torch.Tensor, homography: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Warp (N, C, H, W) by pixel-space homographies (N, 3, 3) mapping source -> destination."""
    n, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, -1, 3).to(images.device)
    source = points @ torch.linalg.inv(homography).to(images.device).transpose(1, 2)
    source = source[..., :2] / source[..., 2:].clamp_min(1e-8)
    grid = torch.stack([source[..., 0] / (w - 1) * 2 - 1, source[..., 1] / (h - 1) * 2 - 1], -1)
    return F.grid_sample(images, grid.view(n, h, w, 2).to(images.dtype), mode="bilinear",
                         padding_mode=padding_mode, align_corners=True)


def _affine(n: int, size: int, generator: torch.Generator | None) -> torch.Tensor:
    angle = _uniform(n, -15, 15, generator) * math.pi / 180
    shift = _uniform(2 * n, -0.1 * size, 0.1 * size, generator).view(n, 2)
    centre = (size - 1) / 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    matrix = torch.zeros(n, 3, 3)
    matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1] = cos, -sin, sin, cos
    matrix[:, 0, 2] = centre - cos * centre + sin * centre + shift[:, 0]
    matrix[:, 1, 2] = centre - sin * centre - cos * centre + shift[:, 1]
    matrix[:, 2, 2] = 1
    return matrix


def _perspective(n: int, size: int, distortion: float, generator: torch.Generator | None) -> torch.Tensor:
    last = size - 1
    corners = torch.tensor([[0, 0], [last, 0], [last, last], [0, last]], dtype=torch.float32)
    inward = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=torch.float32)
    offsets = torch.rand(n, 4, 2, generator=generator) * (distortion / 2 * size)
    moved = corners + inward * offsets
    return torch.stack([_homography(corners, moved[i]) for i in range(n)])


def _homography(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    rows = []
    for (x, y), (u, v) in zip(source.tolist(), target.tolist()):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64), target.reshape(-1).double())
    return torch.cat([solution, torch.ones(1, dtype=torch.float64)]).view(3, 3).float()


def random_warps(images: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.7) -> torch.Tensor:
    """Each image: random affine with probability p (border padding), then random perspective
    with probability p (zero padding)."""
    n, size = images.shape[0], images.shape[-1]
    identity = torch.eye(3).expand(n, 3, 3)
    apply = (torch.rand(n, generator=generator) < p).view(n, 1, 1)
    affine = torch.where(apply, _affine(n, size, generator), identity)
    images = _warp(images, affine, "border")
    apply = (torch.rand(n, generator=generator) < p).view(n, 1, 1)
    perspective = torch.where(apply, _perspective(n, size, 0.7, generator), identity)
    return _warp(images, perspective, "zeros")


# ---------------------------------------------------------------------------------------


def load_tokenizer(vocab_path: str | Path, merges_path: str | Path):
    from transformers import CLIPTokenizer

    return CLIPTokenizer(str(vocab_path), str(merges_path))


def load_clip(
    model_path: str | Path,
    vocab_path: str | Path,
    merges_path: str | Path,
    device: str | torch.device = "cpu",
    config: dict | None = None,
) -> CLIPGuide:
    """CLIP ViT-B/32 (or ``config``) from the Hugging Face ``model.safetensors`` plus its tokenizer files."""
    from safetensors.torch import load_file

    from ..errors import CheckpointError, MissingWeightsError

    if not Path(model_path).is_file():
        raise MissingWeightsError(f"{model_path} does not exist. Run `hairedit weights download`.")
    try:
        state = load_file(str(model_path))
    except Exception as error:
        raise CheckpointError(f"{model_path} is not a readable safetensors file ({error}).") from error
    model = build_clip_model(config or VIT_B_32)
    # Older exports saved the position-id buffers, which transformers now rebuilds itself.
    position_ids = [key for key in state if key.endswith("embeddings.position_ids")]
    load_strict(model, state, model_path, ignored_keys=position_ids)
    guide = CLIPGuide(model.eval().requires_grad_(False), load_tokenizer(vocab_path, merges_path))
    return guide.to(device)


SMALL_CONFIG = {
    "text_config": {
        "vocab_size": 49408, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
        "num_attention_heads": 2, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
    },
    "vision_config": {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
        "image_size": 224, "patch_size": 32, "hidden_act": "quick_gelu",
    },
    "projection_dim": 32,
}


def small_clip(tokenizer, seed: int = 0) -> CLIPGuide:
    """A one-layer random CLIP with the real input geometry (224 px, 32 px patches, 77 tokens)."""
    torch.manual_seed(seed)
    return CLIPGuide(build_clip_model(SMALL_CONFIG).eval().requires_grad_(False), tokenizer)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2 / CLIP convention)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]


def write_byte_vocabulary(folder: str | Path) -> tuple[Path, Path]:
    """Write a merge-free byte-level CLIP vocabulary (vocab.json, merges.txt) into ``folder``.

    It tokenizes any text (character by character) without the real BPE merges: enough for
    the small random CLIP of ``--smoke`` runs and tests, which need no download.
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab = {token: index for index, token in enumerate(symbols + [s + "</w>" for s in symbols])}
    # The special tokens keep their real ids: the text encoder pools at <|endoftext|> (49407).
    vocab.update({"<|startoftext|>": 49406, "<|endoftext|>": 49407})
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n", encoding="utf-8")
    return vocab_path, merges_path
