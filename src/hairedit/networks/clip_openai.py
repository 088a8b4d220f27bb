"""CLIP weights in OpenAI's layout (``clip.load``'s model, as saved inside other checkpoints
such as ``hairclip.pt``) mapped onto the ``transformers.CLIPModel`` of :mod:`.clip`.

The two layouts hold the same numbers under other names, with two changes of form:
attention's packed ``in_proj_weight`` / ``in_proj_bias`` (query, key, value stacked) become
three projections, and the two output projections, applied as ``x @ P`` by OpenAI, become
``nn.Linear`` weights ``P.T``. Half-precision tensors (``clip.load`` on CUDA leaves linear
and convolution weights in fp16) become float32, exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import check_keys
from .clip import build_clip_model

# OpenAI resblock names -> transformers encoder-layer names.
_LAYER_NAMES = {
    "attn.out_proj": "self_attn.out_proj",
    "ln_1": "layer_norm1",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "ln_2": "layer_norm2",
}
_TOP_NAMES = {  # (OpenAI name, transformers name, transposed)
    "token_embedding.weight": ("text_model.embeddings.token_embedding.weight", False),
    "positional_embedding": ("text_model.embeddings.position_embedding.weight", False),
    "ln_final.weight": ("text_model.final_layer_norm.weight", False),
    "ln_final.bias": ("text_model.final_layer_norm.bias", False),
    "text_projection": ("text_projection.weight", True),
    "logit_scale": ("logit_scale", False),
    "visual.class_embedding": ("vision_model.embeddings.class_embedding", False),
    "visual.positional_embedding": ("vision_model.embeddings.position_embedding.weight", False),
    "visual.conv1.weight": ("vision_model.embeddings.patch_embedding.weight", False),
    "visual.ln_pre.weight": ("vision_model.pre_layrnorm.weight", False),
    "visual.ln_pre.bias": ("vision_model.pre_layrnorm.bias", False),
    "visual.ln_post.weight": ("vision_model.post_layernorm.weight", False),
    "visual.ln_post.bias": ("vision_model.post_layernorm.bias", False),
    "visual.proj": ("visual_projection.weight", True),
}
_QKV = ("q_proj", "k_proj", "v_proj")


def _rules(text_layers: int, vision_layers: int) -> list[tuple[str, tuple[str, ...], bool]]:
    """(OpenAI key, the transformers keys it becomes (three for a packed projection), transposed)."""
    rules = [(openai, (ours,), transposed) for openai, (ours, transposed) in _TOP_NAMES.items()]
    towers = (("", "text_model", text_layers), ("visual.", "vision_model", vision_layers))
    for openai_tower, our_tower, layers in towers:
        for index in range(layers):
            openai, ours = f"{openai_tower}transformer.resblocks.{index}.", f"{our_tower}.encoder.layers.{index}."
            for kind in ("weight", "bias"):
                packed = tuple(f"{ours}self_attn.{projection}.{kind}" for projection in _QKV)
                rules.append((f"{openai}attn.in_proj_{kind}", packed, False))
                for openai_name, our_name in _LAYER_NAMES.items():
                    rules.append((f"{openai}{openai_name}.{kind}", (f"{ours}{our_name}.{kind}",), False))
    return rules


def uninitialised_clip_model(config: dict) -> nn.Module:
    """``build_clip_model(config)`` without drawing its random initial weights (about ten
    seconds for ViT-B/32 on two cores), for a model whose every weight is loaded next."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers 4
        from transformers.modeling_utils import no_init_weights
    with no_init_weights():
        return build_clip_model(config)


def openai_to_transformers(
    state: Mapping[str, torch.Tensor], model: nn.Module, source: str | Path, prefix: str = "", as_stored: bool = False
) -> dict[str, torch.Tensor]:
    """OpenAI-layout ``state`` (keys under ``prefix``) -> a float32 state dict for ``model``
    (a ``transformers.CLIPModel``); with ``as_stored``, fp16 tensors stay fp16 (see
    :func:`compute_in_float32`).

    Raises:
        CheckpointError: naming, as in the file, the first missing, unexpected or misshaped keys.
    """
    config = model.config
    rules = _rules(config.text_config.num_hidden_layers, config.vision_config.num_hidden_layers)
    target = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    expected = {}
    for openai, ours, transposed in rules:
        shape = target[ours[0]]
        if len(ours) > 1:  # query, key and value stacked
            shape = (len(ours) * shape[0], *shape[1:])
        expected[prefix + openai] = shape[::-1] if transposed else shape
    check_keys(expected, state, source, "CLIP ViT-B/32 in OpenAI's layout")
    converted = {}
    for openai, ours, transposed in rules:
        value = state[prefix + openai]
        value = value if as_stored and value.dtype == torch.float16 else value.float()
        if transposed:
            value = value.t().contiguous()
        if len(ours) == 1:
            converted[ours[0]] = value
        else:
            converted.update(zip(ours, value.chunk(len(ours))))
    return converted


class _ReadAsFloat32(nn.Module):
    """A parametrization: the stored tensor, read as float32 while it is stored in fp16 (a
    model moved to float64 afterwards reads its float64 tensors as they are)."""

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return stored.float() if stored.dtype == torch.float16 else stored


def compute_in_float32(model: nn.Module) -> nn.Module:
    """Keep ``model``'s fp16 parameters in fp16, read as float32 whenever used.

    An fp16 value is exactly a float32 value, so the model computes exactly what its float32
    copy would, in half the memory (300 MB less for ViT-B/32): each layer's float32 weights
    exist only while that layer runs.
    """
    from torch.nn.utils import parametrize

    for module in list(model.modules()):
        for name, parameter in list(module.named_parameters(recurse=False)):
            if parameter.dtype == torch.float16:
                parametrize.register_parametrization(module, name, _ReadAsFloat32(), unsafe=True)
    return model
