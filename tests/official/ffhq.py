"""ffhq.pt: {"g_ema": rosinality Generator state dict, "latent_avg": (512,)}."""

from __future__ import annotations

import math

import torch

from .layout import random_state


def generator_shapes(size: int = 1024, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2) -> dict:
    shapes: dict[str, tuple] = {}
    for i in range(1, n_mlp + 1):
        shapes[f"style.{i}.weight"] = (style_dim, style_dim)
        shapes[f"style.{i}.bias"] = (style_dim,)
    cm = channel_multiplier
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}

    def styled(prefix, cin, cout, upsample):
        shapes[f"{prefix}.conv.weight"] = (1, cout, cin, 3, 3)
        shapes[f"{prefix}.conv.modulation.weight"] = (cin, style_dim)
        shapes[f"{prefix}.conv.modulation.bias"] = (cin,)
        if upsample:
            shapes[f"{prefix}.conv.blur.kernel"] = (4, 4)
        shapes[f"{prefix}.noise.weight"] = (1,)
        shapes[f"{prefix}.activate.bias"] = (cout,)

    def to_rgb(prefix, cin, upsample):
        if upsample:
            shapes[f"{prefix}.upsample.kernel"] = (4, 4)
        shapes[f"{prefix}.conv.weight"] = (1, 3, cin, 1, 1)
        shapes[f"{prefix}.conv.modulation.weight"] = (cin, style_dim)
        shapes[f"{prefix}.conv.modulation.bias"] = (cin,)
        shapes[f"{prefix}.bias"] = (1, 3, 1, 1)

    shapes["input.input"] = (1, channels[4], 4, 4)
    styled("conv1", channels[4], channels[4], False)
    to_rgb("to_rgb1", channels[4], False)
    log_size = int(math.log2(size))
    for layer in range((log_size - 2) * 2 + 1):
        res = 2 ** ((layer + 5) // 2)
        shapes[f"noises.noise_{layer}"] = (1, 1, res, res)
    in_channel = channels[4]
    for i in range(3, log_size + 1):
        out_channel = channels[2**i]
        styled(f"convs.{2 * (i - 3)}", in_channel, out_channel, True)
        styled(f"convs.{2 * (i - 3) + 1}", out_channel, out_channel, False)
        to_rgb(f"to_rgbs.{i - 3}", out_channel, True)
        in_channel = out_channel
    return shapes


def write_ffhq(path, size: int = 1024, style_dim: int = 512, n_mlp: int = 8, seed: int = 0, **extra) -> dict:
    state = random_state(generator_shapes(size, style_dim, n_mlp), seed)
    blur = torch.tensor([1.0, 3, 3, 1])
    kernel = blur[None] * blur[:, None]
    kernel = kernel / kernel.sum() * 4
    for key in state:
        if key.endswith(".kernel"):
            state[key] = kernel.clone()
    checkpoint = {"g_ema": state, "latent_avg": torch.randn(style_dim), **extra}
    torch.save(checkpoint, path)
    return checkpoint
