"""HairMapper's LevelMapper, the bald proxy of HairCLIPv2 (``bald_proxy.pt``).

Eight fully connected layers (StyleGAN2-ADA ``FullyConnectedLayer``: equalised learning
rate with multiplier 0.01, leaky ReLU 0.2 with gain sqrt(2)) applied to each W+ row on its
own. Keys: ``structure_mapping.fc{i}.weight|bias`` and the (unused) ``structure_mapping.w_avg``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import checkpoint_entry, load_strict, read_checkpoint
from ..weights.checks import checker
from .random_init import seeded


class FullyConnected(nn.Module):
    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 0.01):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class StructureMapping(nn.Module):
    def __init__(self, style_dim: int, width: int, n_layers: int):
        super().__init__()
        for index in range(n_layers):
            setattr(self, f"fc{index}", FullyConnected(style_dim if index == 0 else width, width))
        self.n_layers = n_layers
        # Tracked during HairMapper's training only; kept so the official file loads strictly.
        self.register_buffer("w_avg", torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(self.n_layers):
            x = getattr(self, f"fc{index}")(x)
        return x


class BaldMapper(nn.Module):
    """W+ rows (B, rows, style_dim) -> offsets (B, rows, width) that remove the hair.

    The pipeline applies ``w[:, rows] += 1.2 * alpha * mapper(w[:, rows])`` (rows 0-7 of
    the 1024 px generator); ``alpha`` comes from the checkpoint.
    """

    def __init__(self, style_dim: int = 512, width: int = 512, n_layers: int = 8, alpha: float = 1.0):
        super().__init__()
        self.structure_mapping = StructureMapping(style_dim, width, n_layers)
        self.alpha = alpha

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.structure_mapping(rows)


def load_bald_mapper(path: str | Path, device: str | torch.device = "cpu") -> BaldMapper:
    """Read ``bald_proxy.pt`` (``state_dict``, ``alpha``)."""
    checkpoint = read_checkpoint(path)
    state = checkpoint_entry(checkpoint, "state_dict", path)
    alpha = float(checkpoint_entry(checkpoint, "alpha", path))
    mapper = BaldMapper(alpha=alpha)
    load_strict(mapper, state, path)
    return mapper.eval().requires_grad_(False).to(device)


def small_bald_mapper(seed: int = 0, style_dim: int = 64) -> BaldMapper:
    with seeded(seed):
        return BaldMapper(style_dim, width=style_dim, n_layers=8, alpha=1.0).eval().requires_grad_(False)


@checker("bald_proxy.pt")
def check_bald_mapper_file(path: Path) -> str:
    return f"alpha {load_bald_mapper(path).alpha:.3f}"
