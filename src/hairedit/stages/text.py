"""Step 4a: the text proxy: a latent whose image has the hairstyle described in words.

From the mean latent, Adam on the coarse rows: augmented CLIP loss + jaw and nose landmark
heatmaps against the photo's + (optional) cross-entropy against a painted mask. Fixed noise.
As the official loop, it hands on the latent its last loss was computed for (the last Adam
update is discarded).
"""

from __future__ import annotations

import torch

from ..config import LatentRows, TextProxyConfig
from ..losses import landmark_loss, painted_mask_loss
from ..progress import Reporter
from ._optimise import PartialLatent, Plateau, render, take_step


def text_proxy(
    components,
    description: str,
    source_image: torch.Tensor,
    config: TextProxyConfig,
    rows: LatentRows,
    reporter: Reporter,
    painted_labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    fast=None,
    start_generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The text proxy latent (1, n, D). ``source_image`` (1, 3, S, S) [-1, 1]; ``painted_labels``
    (1, p, p) long at the parser's size; ``generator``: the CPU stream of CLIP's augmentations;
    ``start_generator``: the CPU stream a random start is drawn from (``config.from_mean`` False)."""
    g = components.generator
    text_features = components.clip.encode_text([description])
    with torch.no_grad():
        source_heatmaps = components.landmarks(source_image)
    start = _start_latent(components, config, start_generator)
    latent = PartialLatent(start, rows.coarse)
    optimizer = torch.optim.Adam([latent.free], lr=config.learning_rate)
    loss_px = None if fast is None else fast.loss_px_for(g.size)
    plateau = Plateau(fast)
    handed_on = latent.full().detach()
    for step in range(config.steps):
        full = latent.full()
        handed_on = full.detach()
        image = render(g, full, loss_px)
        loss = config.clip_lambda * components.clip.loss(image, text_features, config.augmentations, generator)
        loss = loss + config.landmark_lambda * landmark_loss(source_heatmaps, components.landmarks(image), True)
        if painted_labels is not None:
            loss = loss + config.mask_lambda * painted_mask_loss(components.parser(image).logits, painted_labels)
        if take_step(optimizer, loss, plateau, reporter, "text proxy", step + 1, config.steps, lambda: g(handed_on)):
            break
    return handed_on


@torch.no_grad()
def _start_latent(components, config: TextProxyConfig, generator: torch.Generator | None) -> torch.Tensor:
    """The mean latent in every row (official default), or a random mapped latent truncated
    towards it by ``config.start_truncation`` (the official ``from_mean=False``)."""
    g, mean = components.generator, components.mean_latent.view(1, -1)
    if config.from_mean:
        w = mean
    else:
        z = torch.randn(1, g.style_dim, generator=generator).to(mean.device)
        w = g.truncate(g.map(z), mean, config.start_truncation)
    return w.view(1, 1, -1).repeat(1, g.n_latent, 1)
