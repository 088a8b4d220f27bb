"""A W+ latent of which only some rows are optimised."""

from __future__ import annotations

import torch


class PartialLatent:
    """``latent`` (1, n, D) whose rows ``free`` (a contiguous range) are trainable."""

    def __init__(self, latent: torch.Tensor, free: range):
        self.before = latent[:, : free.start].detach()
        self.free = latent[:, free.start : free.stop].detach().clone().requires_grad_(True)
        self.after = latent[:, free.stop :].detach()

    def full(self) -> torch.Tensor:
        return torch.cat([self.before, self.free, self.after], 1)
