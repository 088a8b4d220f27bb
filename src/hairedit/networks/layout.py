"""Memory layout of feature maps."""

from __future__ import annotations

import torch


def preferred_memory_format(device: torch.device) -> torch.memory_format:
    """Channels-last on CPU, where oneDNN runs convolutions 1.2-2x faster on it (most for the
    depthwise blur); the default layout elsewhere. The values are the same either way."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format
