"""CLIP ViT-B/32 (OpenAI weights) as HairCLIPv2's text and colour guide.

The network is ``transformers.CLIPModel`` built from a configuration written here (the
OpenAI ViT-B/32 numbers, QuickGELU) and loaded strictly from the Hugging Face
``openai/clip-vit-base-patch32`` ``model.safetensors``. :class:`CLIPGuide` adds the
official losses of HairCLIPv2's ``criteria/clip_loss.py``:

- ``CLIPLoss`` (colour proxy): the image brought to 224 px by nearest 7x upsampling and
  average pooling, loss ``1 - logit_scale.exp() * cos / 100``;
- ``AugCLIPLoss`` (text proxy): adaptive average pooling to 224 px, 8 copies of which all
  but the first go through kornia's ``RandomAffine(15, translate=0.1, p=0.7, border)`` and
  ``RandomPerspective(0.7, p=0.7)``, mean spherical distance to the text.

The augmentations live in :mod:`.clip_augment`, the tokenizer files in :mod:`.clip_tokenizer`.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._requirements import require
from ..checkpoints import load_strict
from ..errors import CheckpointError, InputError, MissingWeightsError
from ..weights.checks import checker
from .clip_augment import augment_views
from .clip_tokenizer import load_tokenizer, write_byte_vocabulary
from .random_init import seeded

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE_PX = 224
CONTEXT_LENGTH = 77  # tokens, start and end of text included
# Buffers that older Hugging Face exports saved and transformers now rebuilds itself.
POSITION_ID_KEYS = ("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids")



def _clip_config(embed_dim: int, text_width: int, text_layers: int, text_heads: int,
                 vision_width: int, vision_layers: int, vision_heads: int) -> dict:
    """A ``transformers.CLIPConfig`` as a dict (the shape of a hub ``config.json``): OpenAI's
    4x wide QuickGELU MLPs, 224 px images in 32 px patches, 77 tokens, 49408 token ids."""
    return {
        "text_config": {
            "vocab_size": 49408,
            "hidden_size": text_width,
            "intermediate_size": 4 * text_width,
            "num_hidden_layers": text_layers,
            "num_attention_heads": text_heads,
            "max_position_embeddings": CONTEXT_LENGTH,
            "hidden_act": "quick_gelu",
        },
        "vision_config": {
            "hidden_size": vision_width,
            "intermediate_size": 4 * vision_width,
            "num_hidden_layers": vision_layers,
            "num_attention_heads": vision_heads,
            "image_size": CLIP_SIZE_PX,
            "patch_size": 32,
            "hidden_act": "quick_gelu",
        },
        "projection_dim": embed_dim,
    }


VIT_B_32 = _clip_config(
    embed_dim=512, text_width=512, text_layers=12, text_heads=8, vision_width=768, vision_layers=12, vision_heads=12
)
# One layer per tower and 32 channels, with the real input geometry: tests and --smoke. Its
# logit scale starts at the trained model's, exp(scale) = 100, so that ``CLIPLoss`` (which
# divides the logits by 100) has the trained model's range, 1 - cos.
SMALL_CONFIG = {
    **_clip_config(
        embed_dim=32, text_width=32, text_layers=1, text_heads=2, vision_width=32, vision_layers=1, vision_heads=2
    ),
    "logit_scale_init_value": math.log(100),
}


def build_clip_model(config: dict = VIT_B_32) -> nn.Module:
    """A randomly initialised ``transformers.CLIPModel`` for ``config`` (see :data:`VIT_B_32`)."""
    require("transformers")
    from transformers import CLIPConfig, CLIPModel

    return CLIPModel(CLIPConfig(**copy.deepcopy(config)))


class CLIPGuide(nn.Module):
    """CLIP image and text embeddings with HairCLIPv2's losses.

    Args:
        model: a ``transformers.CLIPModel``.
        tokenizer: its ``transformers.CLIPTokenizer``.
    """

    def __init__(self, model: nn.Module, tokenizer):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> token ids (B, 77), padded with end-of-text tokens.

        Raises:
            InputError: a text is longer than CLIP's 77 tokens (the official tokenizer refuses it too).
        """
        ids = self.tokenizer(list(texts), padding="max_length", max_length=CONTEXT_LENGTH)["input_ids"]
        for text, tokens in zip(texts, ids):
            if len(tokens) > CONTEXT_LENGTH:
                raise InputError(
                    f"The description '{text[:60]}' is too long for CLIP: {len(tokens)} tokens, "
                    f"at most {CONTEXT_LENGTH}. Shorten it."
                )
        return torch.tensor(ids, dtype=torch.long, device=self.mean.device)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> (B, D) projected text embeddings, not normalised (OpenAI's ``encode_text``).

        Only the causal mask is used, as OpenAI's model: the end-of-text token, where the
        embedding is read, never sees the padding after it.
        """
        pooled = self.model.text_model(input_ids=self.tokenize(texts)).pooler_output
        return self.model.text_projection(pooled).float()

    def embed_pixels(self, image_224: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) in [-1, 1] -> (B, D) image embeddings, differentiable.

        The image is mapped to [0, 1] and normalised with CLIP's mean and std.
        """
        pixels = ((image_224 + 1) / 2 - self.mean) / self.std
        pooled = self.model.vision_model(pixel_values=pixels).pooler_output
        return self.model.visual_projection(pooled).float()

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1], any size -> (B, D) image embeddings, differentiable.

        The image reaches 224 px as in the official ``CLIPLoss`` (see :func:`clip_loss_resize`).
        """
        return self.embed_pixels(clip_loss_resize(image))

    def loss(
        self,
        image: torch.Tensor,
        text_features: torch.Tensor,
        augmentations: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The official CLIP loss (scalar) of ``image`` (B, 3, H, W) in [-1, 1] against
        ``text_features`` (1, D) or (B, D) from :meth:`encode_text`; mean over the batch.

        ``augmentations == 1``: ``CLIPLoss``, ``1 - logit_scale.exp() * cos / 100``.
        ``augmentations > 1``: ``AugCLIPLoss``: adaptive average pooling to 224 px, that many
        copies of which all but the first are randomly warped (:func:`augment_views`, drawn
        from ``generator``), mean spherical distance ``2 * arcsin(|x - y| / 2) ** 2``
        between the unit embeddings.
        """
        if augmentations < 1:
            raise ValueError(f"augmentations must be at least 1. Got {augmentations}.")
        text = F.normalize(text_features, dim=-1)
        if augmentations == 1:
            cosine = (F.normalize(self.encode_image(image), dim=-1) * text).sum(-1)
            return (1 - self.model.logit_scale.exp() * cosine / 100).mean()
        pooled = F.adaptive_avg_pool2d(image, (CLIP_SIZE_PX, CLIP_SIZE_PX))
        copies = augment_views(pooled.repeat(augmentations - 1, 1, 1, 1), generator)
        features = F.normalize(self.embed_pixels(torch.cat([pooled, copies])), dim=-1)
        # (copies, B, D): copy k of image b sits at row k * B + b, like the official tiling.
        return spherical_distance(features.view(augmentations, image.shape[0], -1), text).mean()


def spherical_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``2 * arcsin(|x - y| / 2) ** 2`` for unit vectors (..., D) -> (...): half the squared
    angle between them (0 equal, pi**2 / 8 orthogonal, pi**2 / 2 opposite)."""
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def clip_loss_resize(image: torch.Tensor, size_px: int = CLIP_SIZE_PX) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size_px, size_px) as ``CLIPLoss`` does it for a 1024 px image:
    nearest upsampling by 7 then average pooling by 32.

    That is box (area) resampling with windows of ``H / size_px`` input pixels, fractional
    edges included; it is computed as one linear map per axis, which gives the same numbers
    without building the 7x upsampled image (7168 px for a 1024 px input). Any input size works.
    """
    rows = _box_weights(image.shape[-2], size_px).to(image)
    columns = _box_weights(image.shape[-1], size_px).to(image)
    return torch.einsum("ih,bchw,jw->bcij", rows, image, columns)


def _box_weights(in_px: int, out_px: int) -> torch.Tensor:
    """(out_px, in_px): output pixel i averages the input interval [i, i + 1) * in_px / out_px."""
    edges = torch.arange(out_px + 1, dtype=torch.float64) * in_px / out_px
    pixels = torch.arange(in_px, dtype=torch.float64)
    overlap = torch.minimum(edges[1:, None], pixels + 1) - torch.maximum(edges[:-1, None], pixels)
    return overlap.clamp_min(0) * out_px / in_px


def _read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise MissingWeightsError(f"{path} does not exist. Run `hairedit weights download`.")
    try:
        return load_file(str(path))
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error}). Download it again.") from error


def load_clip_model(model_path: str | Path, config: dict | None = None) -> nn.Module:
    """The ``transformers.CLIPModel`` of ``model.safetensors``, every key accounted for (the
    position-id buffers of older exports are dropped by name)."""
    model = build_clip_model(config or VIT_B_32)
    load_strict(model, _read_safetensors(model_path), model_path, ignored_keys=POSITION_ID_KEYS)
    return model


def load_clip(
    model_path: str | Path,
    vocab_path: str | Path,
    merges_path: str | Path,
    device: str | torch.device = "cpu",
    config: dict | None = None,
) -> CLIPGuide:
    """CLIP ViT-B/32 (or ``config``) from the Hugging Face ``model.safetensors``
    (:func:`load_clip_model`) and its tokenizer files."""
    config = config or VIT_B_32
    model = load_clip_model(model_path, config)
    tokenizer = load_tokenizer(vocab_path, merges_path)
    largest_id = max(tokenizer.get_vocab().values())
    if largest_id >= config["text_config"]["vocab_size"]:
        raise CheckpointError(
            f"{vocab_path} has token ids up to {largest_id}, beyond the model's {config['text_config']['vocab_size']}."
        )
    return CLIPGuide(model.eval().requires_grad_(False), tokenizer).to(device)


def small_clip(seed: int = 0, tokenizer=None) -> CLIPGuide:
    """A random one-layer CLIP (:data:`SMALL_CONFIG`) for tests and ``--smoke``; without
    ``tokenizer``, the merge-free byte-level one of :func:`write_byte_vocabulary`."""
    if tokenizer is None:
        with tempfile.TemporaryDirectory(prefix="hairedit-vocab-") as folder:
            tokenizer = load_tokenizer(*write_byte_vocabulary(folder))
    with seeded(seed):
        model = build_clip_model(SMALL_CONFIG)
    return CLIPGuide(model.eval().requires_grad_(False), tokenizer)


@checker("clip_vit_b32.safetensors")
def check_clip_file(path: Path) -> str:
    load_clip_model(path)
    return "CLIP ViT-B/32"
