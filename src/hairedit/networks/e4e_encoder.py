"""encoder4editing (e4e): a photo to W+ in one forward pass, the instant preset's inversion.

``e4e_ffhq_encode.pt`` holds a whole pSp model: ``state_dict`` with the encoder under
``encoder.`` and the StyleGAN2 it was trained with under ``decoder.``, the mean latent
``latent_avg`` (18, 512) and the training ``opts`` (a dict). Only the encoder is kept; the
decoder is dropped on loading (the project already has that generator in ``ffhq.pt``), after
a fingerprint of it is taken (``decoder_digests``) so that ``checkpoints.check_decoder`` can
say whether the two agree.

The official inference (``scripts/inference.py``, HairCLIP's ``predict.py``): the aligned
crop resized to 256x256 by PIL's bilinear filter (torchvision ``Resize`` on a PIL image),
``ToTensor`` and ``Normalize(0.5, 0.5)`` (:func:`e4e_input`); the encoder's W+ plus
``latent_avg`` (``start_from_latent_avg``); every progressive stage active, so all 17
deltas are added to ``w0``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint, state_digests
from ..errors import CheckpointError
from ..weights.checks import checker
from .ir_se import IR_SE_50_UNITS, STAGE_DEPTHS, IRSEBackbone
from .random_init import seeded
from .stylegan2 import EqualLinear

PREFIX = "encoder."
DECODER_PREFIX = "decoder."
INPUT_PX = 256
# Rows [0, 3) read the last stage (1/16 of the input), rows [3, 7) the FPN map at 1/8,
# the rest the FPN map at 1/4; their style blocks start from 16, 32 and 64 px.
COARSE_END, MEDIUM_END = 3, 7
STYLE_BLOCK_PX = (16, 32, 64)


class GradualStyleBlock(nn.Module):
    """(B, in_channels, s, s) -> (B, style_dim): log2(s) stride-2 3x3 convolutions with
    leaky ReLU (slope 0.01) down to 1x1, then an equalised linear layer."""

    def __init__(self, in_channels: int, style_dim: int, spatial_px: int):
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(int(math.log2(spatial_px))):
            layers += [nn.Conv2d(in_channels if index == 0 else style_dim, style_dim, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(style_dim, style_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(features).flatten(1))


def _upsample_add(top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
    """FPN merge: ``top`` bilinearly resized (corners aligned) to ``lateral``'s size, plus it."""
    return F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=True) + lateral


class E4EEncoder(IRSEBackbone):
    """Encoder4Editing: IR-SE-50, one style block per W+ row, FPN lateral layers.

    Row 0 (``w0``) comes from the last stage; every other row is ``w0`` plus a delta from
    its own style block, read from the feature map of its row group (see
    :data:`COARSE_END`). ``latent_avg`` (a non-persistent buffer, (1 or n_styles,
    style_dim)) is added to the result, as the official inference does.
    """

    def __init__(
        self,
        n_styles: int = 18,
        style_dim: int = 512,
        units: tuple[int, ...] = IR_SE_50_UNITS,
        depths: tuple[int, ...] = STAGE_DEPTHS,
    ):
        super().__init__(3, units, depths)
        if n_styles <= MEDIUM_END:
            raise ValueError(f"e4e needs more than {MEDIUM_END} W+ rows. Got {n_styles}.")
        self.n_styles, self.style_dim = n_styles, style_dim
        group_px = [STYLE_BLOCK_PX[(row >= COARSE_END) + (row >= MEDIUM_END)] for row in range(n_styles)]
        self.styles = nn.ModuleList(GradualStyleBlock(depths[3], style_dim, px) for px in group_px)
        self.latlayer1 = nn.Conv2d(depths[2], depths[3], 1)
        self.latlayer2 = nn.Conv2d(depths[1], depths[3], 1)
        self.register_buffer("latent_avg", torch.zeros(1, style_dim), persistent=False)
        self.decoder_digests: dict[str, str] = {}  # set by load_e4e_encoder, for checkpoints.check_decoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image (B, 3, 256, 256) in [-1, 1] (see :func:`e4e_input`) -> W+ (B, n_styles, style_dim)."""
        _, quarter_stage, eighth_stage, last_stage = self.stage_outputs(image, 4)
        w0 = self.styles[0](last_stage)
        rows, features = [w0], last_stage
        for row in range(1, self.n_styles):
            if row == COARSE_END:
                middle = _upsample_add(last_stage, self.latlayer1(eighth_stage))
                features = middle
            elif row == MEDIUM_END:
                features = _upsample_add(middle, self.latlayer2(quarter_stage))
            rows.append(w0 + self.styles[row](features))
        return torch.stack(rows, dim=1) + self.latent_avg


def e4e_input(crop: np.ndarray | Image.Image, device: str | torch.device = "cpu") -> torch.Tensor:
    """The aligned crop, RGB uint8 (H, W, 3) of any size -> (1, 3, 256, 256) in [-1, 1],
    exactly as the official inference prepares it: PIL bilinear resize (antialiased when
    shrinking), ``/ 255``, ``(x - 0.5) / 0.5``."""
    image = crop if isinstance(crop, Image.Image) else Image.fromarray(np.asarray(crop, dtype=np.uint8))
    resized = np.array(image.convert("RGB").resize((INPUT_PX, INPUT_PX), Image.BILINEAR))
    pixels = torch.from_numpy(resized).permute(2, 0, 1).float().div(255)
    return pixels.sub(0.5).div(0.5).unsqueeze(0).to(device)


# ---------------------------------------------------------------------------------------
# Loading


def _options(opts: object, path: str | Path) -> Mapping:
    if isinstance(opts, argparse.Namespace):
        opts = vars(opts)
    if not isinstance(opts, Mapping):
        raise CheckpointError(f"{path}: 'opts' is a {type(opts).__name__}, not the training options.")
    if opts.get("encoder_type", "Encoder4Editing") != "Encoder4Editing":
        raise CheckpointError(
            f"{path} holds a {opts['encoder_type']} encoder, not Encoder4Editing: use e4e_ffhq_encode.pt."
        )
    return opts


def _latent_avg(checkpoint: Mapping, opts: Mapping, n_styles: int, style_dim: int, path: str | Path) -> torch.Tensor:
    if not opts.get("start_from_latent_avg", False):
        return torch.zeros(1, style_dim)
    latent_avg = torch.as_tensor(checkpoint_entry(checkpoint, "latent_avg", path), dtype=torch.float32)
    if latent_avg.shape not in ((style_dim,), (1, style_dim), (n_styles, style_dim)):
        raise CheckpointError(
            f"{path}: latent_avg has shape {tuple(latent_avg.shape)}; expected ({n_styles}, {style_dim})."
        )
    return latent_avg.reshape(-1, style_dim)


def load_e4e_encoder(path: str | Path, device: str | torch.device = "cpu") -> E4EEncoder:
    """Read ``e4e_ffhq_encode.pt`` -> the encoder in eval mode, ``latent_avg`` included.

    Every ``encoder.*`` key must fit (missing, unexpected or misshaped keys are named);
    ``decoder.*`` is dropped by name and freed once fingerprinted (``decoder_digests``, for
    ``checkpoints.check_decoder``);
    any other key is refused as unexpected. The file's tensors become the encoder's own
    (no copy, no random initialisation first).
    """
    checkpoint = read_checkpoint(path)
    opts = _options(checkpoint_entry(checkpoint, "opts", path), path)
    state = checkpoint_entry(checkpoint, "state_dict", path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: 'state_dict' is a {type(state).__name__}, not a state dict.")
    n_styles = 2 * int(math.log2(int(opts.get("stylegan_size", 1024)))) - 2
    encoder_state, decoder_state = {}, {}
    for key, value in state.items():
        if key.startswith(DECODER_PREFIX):
            decoder_state[key[len(DECODER_PREFIX) :]] = value
        else:  # other keys keep their full name, so that an unexpected one is named as in the file
            encoder_state[key[len(PREFIX) :] if key.startswith(PREFIX) else key] = _float32(value)
    digests = state_digests(decoder_state)
    latent_avg = _latent_avg(checkpoint, opts, n_styles, 512, path)
    del checkpoint, state, decoder_state  # the file's generator is not kept
    with torch.device("meta"):
        encoder = E4EEncoder(n_styles)
    load_strict(encoder, encoder_state, path, assign=True)
    encoder.latent_avg = latent_avg
    encoder.decoder_digests = digests
    return encoder.eval().requires_grad_(False).to(device)


def _float32(value: torch.Tensor) -> torch.Tensor:
    return value.float() if torch.is_tensor(value) and value.is_floating_point() else value


def small_e4e_encoder(
    seed: int = 0, n_latent: int = 10, style_dim: int = 64, latent_avg: torch.Tensor | None = None
) -> E4EEncoder:
    """The same structure, one unit per stage and narrow stages, for a small generator
    (``n_latent`` rows of ``style_dim``); ``latent_avg`` (e.g. its mean latent) is added to
    every output, zeros when None."""
    with seeded(seed):
        encoder = E4EEncoder(n_latent, style_dim, units=(1, 1, 1, 1), depths=(16, 16, 32, 32))
    if latent_avg is not None:
        encoder.latent_avg = latent_avg.detach().float().reshape(-1, style_dim).clone()
    return encoder.eval().requires_grad_(False)


@checker("e4e_ffhq_encode.pt")
def check_e4e_file(path: Path) -> str:
    return f"Encoder4Editing, {load_e4e_encoder(path).n_styles} W+ rows"
