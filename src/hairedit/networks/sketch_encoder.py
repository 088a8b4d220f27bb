"""E2Style's first-stage encoder (IR-SE-50 backbone), the sketch proxy of HairCLIPv2.

``sketch_proxy.pt`` holds a whole E2Style model; HairCLIPv2 uses only the keys under
``encoder_firststage.`` (the official loader selects that prefix and ignores the rest), with
``input_nc`` from the file's ``opts``. A sketch (B, input_nc, 256, 256) in [0, 1] (grey
strokes of value 128/255 on black) maps to W+ offsets (B, n_styles, style_dim), added to
the mean latent.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint
from ..errors import CheckpointError
from ..weights.checks import checker
from .ir_se import IR_SE_50_UNITS, STAGE_DEPTHS, IRSEBackbone
from .random_init import seeded

PREFIX = "encoder_firststage."


def _style_head(channels: int, n_rows: int, style_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(channels),
        nn.AdaptiveAvgPool2d((7, 7)),
        nn.Flatten(),
        nn.Linear(channels * 49, style_dim * n_rows),
    )


class SketchEncoder(IRSEBackbone):
    """IR-SE encoder with three style heads: coarse rows from the 1/8 stage, medium from
    1/4, fine from 1/2 (9, 5 and 4 rows for the 18-row W+).

    The last stage (512 channels) is part of the checkpoint but, as in E2Style's first
    stage, never run.
    """

    def __init__(
        self,
        input_nc: int = 1,  # sketch channels
        style_dim: int = 512,
        rows: tuple[int, int, int] = (9, 5, 4),  # coarse, medium, fine
        units: tuple[int, ...] = IR_SE_50_UNITS,
        depths: tuple[int, ...] = STAGE_DEPTHS,
    ):
        super().__init__(input_nc, units, depths)
        self.rows, self.style_dim = rows, style_dim
        self.output_layer_3 = _style_head(depths[2], rows[0], style_dim)
        self.output_layer_4 = _style_head(depths[1], rows[1], style_dim)
        self.output_layer_5 = _style_head(depths[0], rows[2], style_dim)

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        """sketch (B, input_nc, 256, 256) in [0, 1] -> W+ offsets (B, sum(rows), style_dim)."""
        batch = sketch.shape[0]
        half, quarter, eighth = self.stage_outputs(sketch, 3)
        coarse = self.output_layer_3(eighth).view(batch, self.rows[0], self.style_dim)
        medium = self.output_layer_4(quarter).view(batch, self.rows[1], self.style_dim)
        fine = self.output_layer_5(half).view(batch, self.rows[2], self.style_dim)
        return torch.cat([coarse, medium, fine], dim=1)


def _input_nc(opts: object, path: str | Path) -> int:
    if isinstance(opts, argparse.Namespace):
        opts = vars(opts)
    if not isinstance(opts, Mapping) or "input_nc" not in opts:
        raise CheckpointError(f"{path}: 'opts' does not say the encoder's input_nc.")
    return int(opts["input_nc"])


def load_sketch_encoder(path: str | Path, device: str | torch.device = "cpu") -> SketchEncoder:
    """Read ``sketch_proxy.pt`` (``state_dict``, ``opts``): only the first-stage encoder."""
    checkpoint = read_checkpoint(path)
    state = checkpoint_entry(checkpoint, "state_dict", path)
    encoder = SketchEncoder(input_nc=_input_nc(checkpoint_entry(checkpoint, "opts", path), path))
    encoder_state = {key[len(PREFIX) :]: value for key, value in state.items() if key.startswith(PREFIX)}
    if not encoder_state:
        raise CheckpointError(f"{path} has no '{PREFIX}*' keys: it is not an E2Style sketch model.")
    load_strict(encoder, encoder_state, path)
    return encoder.eval().requires_grad_(False).to(device)


def small_sketch_encoder(seed: int = 0, n_styles: int = 10, style_dim: int = 64) -> SketchEncoder:
    """Same structure, one unit per stage and narrow stages, for a small generator."""
    coarse = n_styles // 2
    medium = (n_styles - coarse + 1) // 2
    rows = (coarse, medium, n_styles - coarse - medium)
    with seeded(seed):
        encoder = SketchEncoder(1, style_dim, rows, units=(1, 1, 1, 1), depths=(16, 16, 32, 32))
    return encoder.eval().requires_grad_(False)


@checker("sketch_proxy.pt")
def check_sketch_encoder_file(path: Path) -> str:
    load_sketch_encoder(path)
    return "IR-SE-50 first-stage encoder"
