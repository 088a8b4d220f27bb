"""bald_proxy.pt: {"state_dict": LevelMapper state dict, "alpha": numpy float64 scalar}."""

from __future__ import annotations

import numpy as np
import torch

from .layout import random_state


def level_mapper_shapes(input_dim: int = 512, n_layers: int = 8) -> dict:
    shapes = {}
    for i in range(n_layers):
        shapes[f"structure_mapping.fc{i}.weight"] = (512, input_dim if i == 0 else 512)
        shapes[f"structure_mapping.fc{i}.bias"] = (512,)
    shapes["structure_mapping.w_avg"] = (512,)
    return shapes


def write_bald_proxy(path, alpha: float = 0.85, seed: int = 0) -> dict:
    checkpoint = {"state_dict": random_state(level_mapper_shapes(), seed), "alpha": np.float64(alpha)}
    torch.save(checkpoint, path)
    return checkpoint
