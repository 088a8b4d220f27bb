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


class Plateau:
    """Says when a loss has stopped falling: no relative improvement of ``tolerance`` over the
    best loss in ``patience`` steps. ``Plateau(None)`` never stops (the faithful path)."""

    def __init__(self, fast=None):
        self.patience = None if fast is None else fast.plateau_patience
        self.tolerance = 0.0 if fast is None else fast.plateau_tolerance
        self.best = float("inf")
        self.since_best = 0

    def reached(self, loss: torch.Tensor) -> bool:
        if self.patience is None:
            return False
        value = float(loss.detach())
        if value < self.best * (1 - self.tolerance):
            self.best, self.since_best = value, 0
        else:
            self.since_best += 1
        return self.since_best >= self.patience


def take_step(
    optimizer, loss: torch.Tensor, plateau: Plateau, reporter, stage: str, step: int, total: int, preview
) -> bool:
    """One optimiser step on ``loss``, reported; True once the loss has plateaued."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    reporter.step(stage, step, total, loss, preview)
    return plateau.reached(loss)


def render(generator, latent: torch.Tensor, loss_px: int | None, start_features: torch.Tensor | None = None):
    """The image losses look at: the full image, or the skip image after the ``loss_px`` block."""
    return generator.synthesis(latent, start_features=start_features, stop_px=loss_px).image
