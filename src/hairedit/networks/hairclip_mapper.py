"""HairCLIP v1's mapper: hairstyle and colour edits of a W+ latent in one forward pass.

``hairclip.pt`` holds ``state_dict`` (the mapper under ``mapper.course_mapping.*``,
``mapper.medium_mapping.*``, ``mapper.fine_mapping.*``, the official spelling "course";
a whole CLIP ViT-B/32 in OpenAI's layout under ``mapper.clip_model.*``, its linear and
convolution weights in fp16; the StyleGAN2 under ``decoder.*``) and ``opts``.

The official inference (``mapper/scripts/inference.py``, ``predict.py``,
``mapper/datasets/latents_dataset_inference.py``), reproduced here:

- a hairstyle text is a line of ``hairstyle_list.txt`` such as "bob cut hairstyle"
  (:func:`hairstyle_prompt`); a colour text is ``"<colour> hair"`` (:func:`color_prompt`);
  each goes through ``clip.tokenize`` and CLIP's ``encode_text``;
- a reference photo (1024 px aligned, ``ToTensor`` and ``Normalize(0.5, 0.5)``) is
  multiplied by its binary hair mask, average-pooled to 224 px
  (``AdaptiveAvgPool2d``), mapped to [0, 1], normalised with CLIP's mean and std and
  encoded by CLIP's ``encode_image`` (:meth:`HairCLIP.reference_embedding`);
- the hairstyle embedding (text or reference) conditions the coarse and medium mappers
  (W+ rows 0-3 and 4-7), the colour embedding the fine mapper (rows 8-17); a level
  without a condition still runs, unmodulated (the official ``cut_flag``);
- ``w_hat = w + 0.1 * mapper(w, ...)``.

Which CLIP: the one inside ``hairclip.pt``, mapped onto :mod:`.clip`'s transformers model
(:mod:`.clip_openai`). The official mapper builds ``clip.load("ViT-B/32")`` and then loads
the checkpoint's ``mapper.clip_model.*`` over it (strictly), so those tensors, and no
other file's, are the numbers the official inference uses; taking them from the same file
is faithful by construction, with no assumption about how another copy of CLIP was
converted. It also makes the instant preset need no separate 605 MB CLIP download, only the
tokenizer files. Its fp16 weights stay fp16 in memory and are read as float32 where used
(:func:`.clip_openai.compute_in_float32`: the same numbers in half the memory). The
official run on CUDA also *computes* CLIP in fp16; here CLIP computes in float32, the more
accurate evaluation of
the same weights (embeddings differ from a CUDA fp16 run by fp16 rounding, about 1e-3
relative).

Where hairedit differs: the official code finds the reference's hair mask with its own
parsing UNet (``parsenet.pth``, class 13 at 512 px, nearest-upsampled); here the caller
passes the mask (hairedit's BiSeNet hair class).
"""

from __future__ import annotations

import argparse
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint, state_digests
from ..errors import CheckpointError, MissingWeightsError
from ..weights.checks import checker
from .clip import CLIP_SIZE_PX, VIT_B_32, CLIPGuide, small_clip
from .clip_openai import compute_in_float32, openai_to_transformers, uninitialised_clip_model
from .random_init import seeded
from .stylegan2 import PixelNorm

PREFIX = "mapper."
CLIP_PREFIX = "mapper.clip_model."
DECODER_PREFIX = "decoder."
EDIT_STRENGTH = 0.1  # w_hat = w + 0.1 * mapper(w, ...)
TEXT_EMBEDDINGS_KEPT = 64  # prompts whose embeddings a HairCLIP keeps
MODULATION_MODULES = 5
# W+ rows of the coarse and medium mappers (4 px-8 px and 16 px-32 px layers); the fine
# mapper takes the rest.
COARSE_ROWS, MEDIUM_ROWS = 4, 4


def hairstyle_prompt(description: str) -> str:
    """The official hairstyle text: "<name> hairstyle" (e.g. "bob cut" or "bob cut
    hairstyle" -> "bob cut hairstyle", a line of HairCLIP's hairstyle_list.txt)."""
    text = " ".join(description.split())
    return text if text.lower().endswith("hairstyle") else f"{text} hairstyle"


def color_prompt(color: str) -> str:
    """The official colour text: "<colour> hair" (e.g. "purple" or "purple hair" -> "purple hair")."""
    text = " ".join(color.split())
    return text if text.lower().endswith(" hair") or text.lower() == "hair" else f"{text} hair"


def _film_mlp(embed_dim: int, style_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(embed_dim, style_dim), nn.LayerNorm([style_dim]), nn.LeakyReLU(), nn.Linear(style_dim, style_dim)
    )


class ModulationModule(nn.Module):
    """Linear layer, layer norm over all (rows, style_dim) values together (no affine), then
    a FiLM modulation ``x * (1 + gamma(e)) + beta(e)`` and leaky ReLU (slope 0.01) when a
    condition ``e`` is given; without one the normalised values pass on unmodulated."""

    def __init__(self, rows: int, style_dim: int = 512, embed_dim: int = 512):
        super().__init__()
        self.fc = nn.Linear(style_dim, style_dim)
        self.norm = nn.LayerNorm([rows, style_dim], elementwise_affine=False)
        self.gamma_function = _film_mlp(embed_dim, style_dim)
        self.beta_function = _film_mlp(embed_dim, style_dim)
        self.leakyrelu = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        """x (B, rows, style_dim); embedding (B, rows, embed_dim) or None."""
        x = self.norm(self.fc(x))
        if embedding is None:
            return x
        return self.leakyrelu(x * (1 + self.gamma_function(embedding)) + self.beta_function(embedding))


class SubHairMapper(nn.Module):
    """Pixel norm (over the rows axis, as the official ``PixelNorm`` on (B, rows, C)
    tensors), then five modulation modules."""

    def __init__(self, rows: int, style_dim: int = 512, embed_dim: int = 512):
        super().__init__()
        self.pixelnorm = PixelNorm()
        self.modulation_module_list = nn.ModuleList(
            ModulationModule(rows, style_dim, embed_dim) for _ in range(MODULATION_MODULES)
        )

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        x = self.pixelnorm(x)
        for module in self.modulation_module_list:
            x = module(x, embedding)
        return x


class HairMapper(nn.Module):
    """The three mappers: rows [0, 4) and [4, 8) conditioned on the hairstyle, the rest on
    the colour (``coarse_rows`` and ``medium_rows`` other than 4 only for small test networks,
    whose colour rows come earlier)."""

    def __init__(
        self,
        n_latent: int = 18,
        style_dim: int = 512,
        embed_dim: int = 512,
        coarse_rows: int = COARSE_ROWS,
        medium_rows: int = MEDIUM_ROWS,
    ):
        super().__init__()
        if n_latent <= coarse_rows + medium_rows:
            raise ValueError(f"the mapper needs more than {coarse_rows + medium_rows} W+ rows. Got {n_latent}.")
        self.n_latent, self.coarse_end, self.medium_end = n_latent, coarse_rows, coarse_rows + medium_rows
        self.course_mapping = SubHairMapper(coarse_rows, style_dim, embed_dim)  # sic: the official name
        self.medium_mapping = SubHairMapper(medium_rows, style_dim, embed_dim)
        self.fine_mapping = SubHairMapper(n_latent - self.medium_end, style_dim, embed_dim)

    def forward(
        self, latent: torch.Tensor, hairstyle: torch.Tensor | None, color: torch.Tensor | None
    ) -> torch.Tensor:
        """latent (B, n_latent, style_dim); hairstyle, color: (B, embed_dim) embeddings or
        None -> the mapper's offsets (B, n_latent, style_dim), before the 0.1 scale."""
        hairstyle_rows, color_rows = (self._rows(e, latent) for e in (hairstyle, color))
        coarse_end, medium_end = self.coarse_end, self.medium_end
        return torch.cat(
            [
                self.course_mapping(latent[:, :coarse_end], _take(hairstyle_rows, 0, coarse_end)),
                self.medium_mapping(latent[:, coarse_end:medium_end], _take(hairstyle_rows, coarse_end, medium_end)),
                self.fine_mapping(latent[:, medium_end:], _take(color_rows, medium_end, self.n_latent)),
            ],
            dim=1,
        )

    def _rows(self, embedding: torch.Tensor | None, latent: torch.Tensor) -> torch.Tensor | None:
        # One copy per W+ row, as the official code repeats it (same shapes, same arithmetic).
        if embedding is None:
            return None
        embedding = embedding.to(latent.dtype).expand(latent.shape[0], -1)
        return embedding.unsqueeze(1).repeat(1, self.n_latent, 1)


def _take(rows: torch.Tensor | None, start: int, end: int) -> torch.Tensor | None:
    return None if rows is None else rows[:, start:end]


class HairCLIP(nn.Module):
    """The mapper with the CLIP it reads its conditions with.

    Args:
        mapper: a :class:`HairMapper`.
        clip: a :class:`~hairedit.networks.clip.CLIPGuide`; its tokenizer may be None, then
            only reference images can be embedded.
    """

    def __init__(self, mapper: HairMapper, clip: CLIPGuide):
        super().__init__()
        self.mapper = mapper
        self.clip = clip
        self.decoder_digests: dict[str, str] = {}  # set by load_hairclip_mapper, for checkpoints.check_decoder
        # Prompts embedded lately: a follow-up edit (another colour, the same hairstyle) runs no CLIP for them.
        self._text_embeddings: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._text_lock = threading.Lock()

    def hairstyle_text_embedding(self, description: str) -> torch.Tensor:
        """A hairstyle in words ("bob cut" or "bob cut hairstyle") -> (1, embed_dim)."""
        return self._text_embedding(hairstyle_prompt(description))

    def color_text_embedding(self, color: str) -> torch.Tensor:
        """A colour in words ("purple" or "purple hair") -> (1, embed_dim)."""
        return self._text_embedding(color_prompt(color))

    def _text_embedding(self, prompt: str) -> torch.Tensor:
        if self.clip.tokenizer is None:
            raise MissingWeightsError(
                "Text conditions need CLIP's tokenizer files clip_vocab.json and clip_merges.txt: "
                "run `hairedit weights download clip_vocab.json clip_merges.txt`."
            )
        key = (prompt, self.clip.mean.device)  # moved to another device, the network embeds afresh
        with self._text_lock:
            if key in self._text_embeddings:
                self._text_embeddings.move_to_end(key)
                return self._text_embeddings[key]
        embedding = self.clip.encode_text([prompt])
        with self._text_lock:
            self._text_embeddings[key] = embedding
            while len(self._text_embeddings) > TEXT_EMBEDDINGS_KEPT:
                self._text_embeddings.popitem(last=False)
        return embedding

    @torch.no_grad()
    def reference_embedding(self, image: torch.Tensor, hair_mask: torch.Tensor) -> torch.Tensor:
        """A reference photo's hair -> (B, embed_dim).

        Args:
            image: (B, 3, S, S) aligned photo in [-1, 1] (officially 1024 px, ``(k / 255 - 0.5) / 0.5``).
            hair_mask: (B, 1, S, S) in [0, 1], 1 on the hair (officially binary).
        """
        if image.shape[-2:] != hair_mask.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and hair mask {tuple(hair_mask.shape)} differ in size.")
        pooled = F.adaptive_avg_pool2d(image * hair_mask, (CLIP_SIZE_PX, CLIP_SIZE_PX))
        return self.clip.embed_pixels(pooled)

    @torch.no_grad()
    def edit(
        self,
        latent: torch.Tensor,
        hairstyle: torch.Tensor | None = None,
        color: torch.Tensor | None = None,
        strength: float = EDIT_STRENGTH,
    ) -> torch.Tensor:
        """latent (B, n_latent, style_dim) W+ -> the edited W+ of the same shape,
        ``latent + strength * mapper(latent, hairstyle, color)`` (officially 0.1).

        Args:
            hairstyle: (1 or B, embed_dim), from a hairstyle text or reference, or None.
            color: (1 or B, embed_dim), from a colour text or reference, or None.
        """
        if hairstyle is None and color is None:
            raise ValueError("an edit needs a hairstyle or a colour embedding (or both).")
        return latent + strength * self.mapper(latent, hairstyle, color)


# ---------------------------------------------------------------------------------------
# Loading


def _n_latent(opts: object, path: str | Path) -> int:
    if isinstance(opts, argparse.Namespace):
        opts = vars(opts)
    if not isinstance(opts, Mapping):
        raise CheckpointError(f"{path}: 'opts' is a {type(opts).__name__}, not the training options.")
    return 2 * int(math.log2(int(opts.get("stylegan_size", 1024)))) - 2


def load_hairclip_mapper(path: str | Path, device: str | torch.device = "cpu", tokenizer=None) -> HairCLIP:
    """Read ``hairclip.pt`` -> :class:`HairCLIP` in eval mode, computing in float32.

    The mapper keys load strictly; ``mapper.clip_model.*`` becomes its CLIP (see the module
    docstring), every key accounted for; ``decoder.*`` is dropped by name once fingerprinted
    (``decoder_digests``, for ``checkpoints.check_decoder``); any other key is refused.
    ``tokenizer``: a ``transformers.CLIPTokenizer`` (``clip_tokenizer.load_tokenizer``), needed for
    text conditions only.
    """
    checkpoint = read_checkpoint(path)
    n_latent = _n_latent(checkpoint_entry(checkpoint, "opts", path), path)
    state = checkpoint_entry(checkpoint, "state_dict", path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: 'state_dict' is a {type(state).__name__}, not a state dict.")
    mapper_state, clip_state, decoder_state = {}, {}, {}
    for key, value in state.items():
        if key.startswith(CLIP_PREFIX):
            clip_state[key] = value
        elif key.startswith(DECODER_PREFIX):
            decoder_state[key[len(DECODER_PREFIX) :]] = value
        else:  # other keys keep their full name, so that an unexpected one is named as in the file
            mapper_state[key[len(PREFIX) :] if key.startswith(PREFIX) else key] = value.float()
    digests = state_digests(decoder_state)
    del checkpoint, state, decoder_state
    with torch.device("meta"):  # the file's tensors become the mapper's own: no initialisation, no copy
        mapper = HairMapper(n_latent)
    load_strict(mapper, mapper_state, path, assign=True)
    model = uninitialised_clip_model(VIT_B_32)
    state = openai_to_transformers(clip_state, model, path, prefix=CLIP_PREFIX, as_stored=True)
    load_strict(model, state, path, assign=True)
    compute_in_float32(model)  # the file's fp16 weights stay fp16: the same numbers, half the memory
    hairclip = HairCLIP(mapper, CLIPGuide(model, tokenizer))
    hairclip.decoder_digests = digests
    return hairclip.eval().requires_grad_(False).to(device)


def small_hairclip_mapper(
    seed: int = 0, n_latent: int = 10, style_dim: int = 64, clip: CLIPGuide | None = None, fine_start: int = 8
) -> HairCLIP:
    """A random mapper for a small generator (``n_latent`` rows of ``style_dim``), with
    ``clip`` (default :func:`~hairedit.networks.clip.small_clip`), for tests and ``--smoke``;
    its colour (fine) mapper takes the rows from ``fine_start`` on (8, as the official one;
    earlier for a small generator, whose colour rows come earlier)."""
    clip = clip if clip is not None else small_clip(seed)
    embed_dim = clip.model.config.projection_dim
    coarse = (fine_start + 1) // 2
    with seeded(seed):
        mapper = HairMapper(n_latent, style_dim, embed_dim, coarse, fine_start - coarse)
    return HairCLIP(mapper, clip).eval().requires_grad_(False)


@checker("hairclip.pt")
def check_hairclip_file(path: Path) -> str:
    load_hairclip_mapper(path)
    return "HairCLIP mapper and its CLIP ViT-B/32"
