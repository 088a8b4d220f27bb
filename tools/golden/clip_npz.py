"""tests/golden/clip.npz from OpenAI's ``clip`` (openai-clip 1.0.1) and HairCLIPv2's CLIP losses.

    python tools/golden/clip_npz.py HAIRCLIPV2_CHECKOUT OUT.npz

Weights: ``write_clip(scaled=True, float16_values=True)``, seed 0, in the hub's layout,
converted key by key to OpenAI's (``q/k/v_proj`` stacked into ``in_proj_*``, ``fc1/fc2`` to
``c_fc/c_proj``, the two projections transposed) and built by ``clip.model.build_model``, then
run in float64, its ``LayerNorm`` computing in float64 too (OpenAI's casts to float32 for its
float16 weights, not for the maths). ``clip.load`` (a download) is replaced by that model.
Stored: ``texts``, their ``token_ids`` (``clip.tokenize``), the real ids of their ``words``;
``text_features``; ``image_features`` of the 1024 px "face" and "suit" crops brought to 224 px
as ``CLIPLoss`` does; ``clip_loss[i, j] = CLIPLoss()(image_i, [text_j])``; after
``torch.manual_seed(7)``, ``aug_clip_loss = AugCLIPLoss()(face, "curly hair")``, the parameters
kornia drew for its 7 augmented views and the loss's gradient to the image summed over 32 x 32
blocks.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F

from _official import numpy_of, prepare

TEXTS = ["curly hair", "bob cut hairstyle", "red hair"]


def openai_layout(hub: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The hub's CLIPModel state in OpenAI's layout (the inverse of hairedit's mapping, which the
    stored values, made with an independent conversion, then also check)."""
    from hairedit.networks.clip_openai import _rules

    state = {}
    for openai, ours, transposed in _rules(12, 12):
        value = torch.cat([hub[key] for key in ours]) if len(ours) > 1 else hub[ours[0]]
        state[openai] = value.t() if transposed else value
    state["input_resolution"] = torch.tensor(224)  # build_model reads these three and drops them
    state["context_length"], state["vocab_size"] = torch.tensor(77), torch.tensor(49408)
    return state


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    import clip
    import clip.model
    from clip.simple_tokenizer import SimpleTokenizer

    from tests.golden_inputs import astronaut_image
    from tests.official.clip import write_clip

    clip.model.LayerNorm.forward = torch.nn.LayerNorm.forward  # float64 maths throughout
    model = clip.model.build_model(openai_layout(write_clip(None, scaled=True, float16_values=True))).double().eval()
    clip.load = lambda *args, **kwargs: (model, None)
    from criteria.clip_loss import AugCLIPLoss, CLIPLoss

    words = sorted({word for text in TEXTS for word in text.split()})
    encoder = SimpleTokenizer().encoder
    tokens = clip.tokenize(TEXTS)
    images = torch.cat([astronaut_image(1024, "face"), astronaut_image(1024, "suit")]).double()
    loss = CLIPLoss()
    with torch.no_grad():
        text_features = model.encode_text(tokens)
        image_features = model.encode_image(loss.avg_pool(loss.upsample(loss.clip_normalize((images + 1) / 2))))
        clip_loss = [[loss(image[None], [text]).float() for text in TEXTS] for image in images]
    augmented = AugCLIPLoss()
    affine, perspective = augmented.image_augmentations.augmentations
    face = images[:1].clone().requires_grad_(True)
    torch.manual_seed(7)
    aug_loss = augmented(face, TEXTS[0])
    aug_loss.backward()
    a, p = affine._params, perspective._params
    np.savez(
        out, texts=np.array(TEXTS), words=np.array(words), word_ids=np.array([encoder[w + "</w>"] for w in words]),
        token_ids=tokens.int().numpy(), text_features=numpy_of(text_features), image_features=numpy_of(image_features),
        clip_loss=np.array([[float(value) for value in row] for row in clip_loss], dtype=np.float32),
        aug_clip_loss=np.float32(aug_loss.item()), aug_grad_pooled=numpy_of(F.avg_pool2d(face.grad, 32) * 32 * 32),
        affine_applied=a["batch_prob"].numpy(), affine_angle=a["angle"].float().numpy(),
        affine_translations=a["translations"].float().numpy(), affine_center=a["center"].float().numpy(),
        affine_scale=a["scale"].float().numpy(), affine_shear=torch.stack([a["sx"], a["sy"]], 1).float().numpy(),
        perspective_applied=p["batch_prob"].numpy(), perspective_start=p["start_points"].float().numpy(),
        perspective_end=p["end_points"].float().numpy(),
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
