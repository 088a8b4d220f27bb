"""model.safetensors of HF openai/clip-vit-base-patch32 (transformers CLIPModel naming)."""

from __future__ import annotations

import torch

from .layout import random_state


def _encoder(shapes, prefix, width, layers, mlp):
    for i in range(layers):
        p = f"{prefix}.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{p}.self_attn.{proj}.weight"] = (width, width)
            shapes[f"{p}.self_attn.{proj}.bias"] = (width,)
        for norm in ("layer_norm1", "layer_norm2"):
            shapes[f"{p}.{norm}.weight"] = (width,)
            shapes[f"{p}.{norm}.bias"] = (width,)
        shapes[f"{p}.mlp.fc1.weight"] = (mlp, width)
        shapes[f"{p}.mlp.fc1.bias"] = (mlp,)
        shapes[f"{p}.mlp.fc2.weight"] = (width, mlp)
        shapes[f"{p}.mlp.fc2.bias"] = (width,)


def clip_shapes(text_width=512, text_layers=12, vision_width=768, vision_layers=12, projection=512,
                vocab=49408, context=77, patch=32, image=224, position_ids=True) -> dict:
    shapes: dict[str, tuple] = {}
    shapes["text_model.embeddings.token_embedding.weight"] = (vocab, text_width)
    shapes["text_model.embeddings.position_embedding.weight"] = (context, text_width)
    _encoder(shapes, "text_model", text_width, text_layers, 4 * text_width)
    shapes["text_model.final_layer_norm.weight"] = (text_width,)
    shapes["text_model.final_layer_norm.bias"] = (text_width,)
    patches = (image // patch) ** 2 + 1
    shapes["vision_model.embeddings.class_embedding"] = (vision_width,)
    shapes["vision_model.embeddings.patch_embedding.weight"] = (vision_width, 3, patch, patch)
    shapes["vision_model.embeddings.position_embedding.weight"] = (patches, vision_width)
    shapes["vision_model.pre_layrnorm.weight"] = (vision_width,)
    shapes["vision_model.pre_layrnorm.bias"] = (vision_width,)
    _encoder(shapes, "vision_model", vision_width, vision_layers, 4 * vision_width)
    shapes["vision_model.post_layernorm.weight"] = (vision_width,)
    shapes["vision_model.post_layernorm.bias"] = (vision_width,)
    shapes["visual_projection.weight"] = (projection, vision_width)
    shapes["text_projection.weight"] = (projection, text_width)
    shapes["logit_scale"] = ()
    if position_ids:  # saved by the transformers version that exported the hub file
        shapes["text_model.embeddings.position_ids"] = (1, context)
        shapes["vision_model.embeddings.position_ids"] = (1, patches)
    return shapes


def write_clip(path, seed: int = 0, scaled: bool = False, float16_values: bool = False, **kwargs) -> dict:
    """``path=None`` only returns the state. ``scaled``: see ``random_state``.

    ``float16_values``: every value one that float16 holds exactly. OpenAI released CLIP in
    float16 and the hub's float32 file holds those values; OpenAI's ``build_model`` rounds the
    weights it loads to float16, so golden values from it need such weights.
    """
    from safetensors.torch import save_file

    shapes = clip_shapes(**kwargs)
    state = random_state(shapes, seed, scaled)
    if float16_values:
        state = {key: value.half().float() for key, value in state.items()}
    for key in state:
        if key.endswith("position_ids"):
            state[key] = torch.arange(shapes[key][1]).view(1, -1)
    state["logit_scale"] = torch.tensor(4.6052)
    if path is not None:
        save_file(state, str(path))
    return state


# A small vocabulary in the format of the hub's vocab.json / merges.txt: the 256 byte
# symbols of byte-level BPE (alone and word-final), a few merges, and the special tokens at
# their real ids. The merges build whole-word tokens for the words listed here.
MERGED_WORDS = ("hair", "curly", "bob")


def _byte_symbols() -> list[str]:
    # Byte-level BPE shows printable Latin-1 bytes as themselves and shifts the others to
    # code points from 256 up, in byte order.
    shown = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    shifted = iter(range(256, 512))
    return [chr(byte) if byte in shown else chr(next(shifted)) for byte in range(256)]


def _merges(words=MERGED_WORDS) -> list[tuple[str, str]]:
    merges = []
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
    return list(dict.fromkeys(merges))


def write_bpe_vocabulary(folder, word_ids: dict[str, int] | None = None) -> tuple:
    """vocab.json and merges.txt into ``folder``; returns their paths and the token ids.

    ``word_ids``: words to merge into whole-word tokens and the ids those tokens get (e.g. the
    real vocabulary's), instead of MERGED_WORDS at ids after the byte symbols.
    """
    import json
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merges = _merges(tuple(word_ids) if word_ids else MERGED_WORDS)
    symbols = _byte_symbols()
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(pair) for pair in merges]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    for word, token_id in (word_ids or {}).items():
        vocab[word + "</w>"] = token_id
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = 49406, 49407
    assert len(set(vocab.values())) == len(vocab), "token ids collide"
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "vocab.json", folder / "merges.txt", vocab
