"""hairclip.pt (HairCLIP v1): {"state_dict": HairCLIPMapper's state dict, "opts": vars of the
training options}, in the order the official modules register their tensors:

- "mapper.clip_model.*": ``clip.load("ViT-B/32")``'s CLIP in OpenAI's layout (302 keys); on
  CUDA ``clip.model.convert_weights`` left convolution, linear and attention projection
  weights and biases and the two output projections in fp16, the rest in float32;
- "mapper.course_mapping.*", "mapper.medium_mapping.*", "mapper.fine_mapping.*": 70 keys each
  (``SubHairMapper``: five ``ModulationModule`` of fc, gamma_function, beta_function);
- "decoder.*": the rosinality StyleGAN2 1024 (171 keys).
"""

from __future__ import annotations

import math

import torch

from .ffhq import generator_shapes
from .layout import compact_state, random_state, scaled_random_state

TEXT_WIDTH, TEXT_LAYERS, VISION_WIDTH, VISION_LAYERS, EMBED_DIM = 512, 12, 768, 12, 512
VOCAB, CONTEXT, PATCH_PX, IMAGE_PX = 49408, 77, 32, 224
MAPPER_LEVELS = ("course_mapping", "medium_mapping", "fine_mapping")


def _resblocks(shapes: dict, prefix: str, width: int, layers: int) -> None:
    for i in range(layers):
        p = f"{prefix}transformer.resblocks.{i}"
        shapes[f"{p}.attn.in_proj_weight"] = (3 * width, width)
        shapes[f"{p}.attn.in_proj_bias"] = (3 * width,)
        shapes[f"{p}.attn.out_proj.weight"] = (width, width)
        shapes[f"{p}.attn.out_proj.bias"] = (width,)
        shapes[f"{p}.ln_1.weight"] = (width,)
        shapes[f"{p}.ln_1.bias"] = (width,)
        shapes[f"{p}.mlp.c_fc.weight"] = (4 * width, width)
        shapes[f"{p}.mlp.c_fc.bias"] = (4 * width,)
        shapes[f"{p}.mlp.c_proj.weight"] = (width, 4 * width)
        shapes[f"{p}.mlp.c_proj.bias"] = (width,)
        shapes[f"{p}.ln_2.weight"] = (width,)
        shapes[f"{p}.ln_2.bias"] = (width,)


def openai_clip_shapes() -> dict:
    """clip/model.py's CLIP for ViT-B/32 (the CLIP module's own parameters, then visual,
    transformer, token_embedding, ln_final)."""
    shapes: dict[str, tuple] = {
        "positional_embedding": (CONTEXT, TEXT_WIDTH),
        "text_projection": (TEXT_WIDTH, EMBED_DIM),
        "logit_scale": (),
        "visual.class_embedding": (VISION_WIDTH,),
        "visual.positional_embedding": ((IMAGE_PX // PATCH_PX) ** 2 + 1, VISION_WIDTH),
        "visual.proj": (VISION_WIDTH, EMBED_DIM),
        "visual.conv1.weight": (VISION_WIDTH, 3, PATCH_PX, PATCH_PX),
        "visual.ln_pre.weight": (VISION_WIDTH,),
        "visual.ln_pre.bias": (VISION_WIDTH,),
    }
    _resblocks(shapes, "visual.", VISION_WIDTH, VISION_LAYERS)
    shapes["visual.ln_post.weight"] = (VISION_WIDTH,)
    shapes["visual.ln_post.bias"] = (VISION_WIDTH,)
    _resblocks(shapes, "", TEXT_WIDTH, TEXT_LAYERS)
    shapes["token_embedding.weight"] = (VOCAB, TEXT_WIDTH)
    shapes["ln_final.weight"] = (TEXT_WIDTH,)
    shapes["ln_final.bias"] = (TEXT_WIDTH,)
    return shapes


def fp16_keys(shapes: dict) -> list[str]:
    """What convert_weights turns to fp16: Conv2d / Linear weights and biases (attention's
    out_proj is a Linear), MultiheadAttention's in_proj_weight / in_proj_bias, and the
    text_projection and proj parameters."""
    fp16 = ("attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
            "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")
    parameters = ("visual.conv1.weight", "text_projection", "visual.proj")
    return [key for key in shapes if key.endswith(fp16) or key in parameters]


def mapper_shapes(fine_rows: int = 10) -> dict:
    """latent_mappers.HairMapper without its CLIP: three SubHairMapper of five
    ModulationModule each (LayerNorm([rows, 512]) without affine holds nothing)."""
    shapes: dict[str, tuple] = {}
    for level in MAPPER_LEVELS:
        for i in range(5):
            p = f"{level}.modulation_module_list.{i}"
            shapes[f"{p}.fc.weight"] = (512, 512)
            shapes[f"{p}.fc.bias"] = (512,)
            for function in ("gamma_function", "beta_function"):  # Linear, LayerNorm, LeakyReLU, Linear
                for index in (0, 1, 3):
                    shapes[f"{p}.{function}.{index}.weight"] = (512, 512) if index != 1 else (512,)
                    shapes[f"{p}.{function}.{index}.bias"] = (512,)
    return shapes


def hairclip_opts() -> dict:
    """vars() of mapper/options/train_options.py's namespace, with the ``device`` the coach adds."""
    return {
        "exp_dir": "experiments/hairclip", "no_coarse_mapper": False, "no_medium_mapper": False,
        "no_fine_mapper": False, "latents_train_path": "train_faces.pt", "latents_test_path": "test_faces.pt",
        "hairstyle_ref_img_train_path": "", "hairstyle_ref_img_test_path": "", "color_ref_img_train_path": "",
        "color_ref_img_test_path": "", "color_ref_img_in_domain_path": "", "num_for_each_augmented_color": 4000,
        "hairstyle_manipulation_prob": 0.5, "color_manipulation_prob": 0.2, "both_manipulation_prob": 0.27,
        "hairstyle_text_manipulation_prob": 0.5, "color_text_manipulation_prob": 0.5,
        "color_in_domain_ref_manipulation_prob": 0.25, "train_dataset_size": 5000, "test_dataset_size": 1000,
        "batch_size": 1, "test_batch_size": 1, "workers": 4, "test_workers": 2, "learning_rate": 0.0005,
        "optim_name": "ranger", "text_manipulation_lambda": 2.0, "image_manipulation_lambda": 1.0,
        "attribute_preservation_lambda": 1.0, "image_hairstyle_lambda": 5.0, "image_color_lambda": 0.02,
        "id_lambda": 0.3, "maintain_color_lambda": 0.02, "background_lambda": 1.0, "latent_l2_lambda": 0.8,
        "parsenet_weights": "../pretrained_models/parsenet.pth",
        "stylegan_weights": "../pretrained_models/stylegan2-ffhq-config-f.pt", "stylegan_size": 1024,
        "ir_se50_weights": "../pretrained_models/model_ir_se50.pth", "checkpoint_path": None,
        "max_steps": 500000, "image_interval": 100, "board_interval": 50, "val_interval": 2000,
        "save_interval": 2000, "hairstyle_description": "hairstyle_list.txt",
        "color_description": "purple, red, orange, yellow, green, blue, gray, brown, black, white, blond, pink",
        "device": "cuda:0",
    }


def hairclip_parts(seed: int = 0) -> tuple[dict, dict]:
    """(CLIP, mapper) random states that keep activations of order one; CLIP's fp16 keys in fp16."""
    shapes = openai_clip_shapes()
    clip = scaled_random_state(shapes, seed, input_first_keys=("text_projection", "visual.proj"))
    clip["logit_scale"] = torch.tensor(math.log(100.0))
    for key in fp16_keys(shapes):
        clip[key] = clip[key].half()
    mapper = scaled_random_state(mapper_shapes(), seed + 1)
    return clip, mapper


def write_hairclip(path, seed: int = 0, decoder: dict | None = None, compact: bool = False) -> dict:
    """The whole file; ``compact``: every tensor one stored number (keys, shapes and dtypes
    exact), for tests of the layout only."""
    if compact:
        shapes = openai_clip_shapes()
        clip, mapper = compact_state(shapes), compact_state(mapper_shapes())
        for key in fp16_keys(shapes):  # one stored fp16 number each too
            clip[key] = torch.full((), 0.01, dtype=torch.float16).expand(shapes[key])
        decoder = decoder if decoder is not None else compact_state(generator_shapes(1024))
    else:
        clip, mapper = hairclip_parts(seed)
        decoder = decoder if decoder is not None else random_state(generator_shapes(1024), seed + 2)
    state = {f"mapper.clip_model.{key}": value for key, value in clip.items()}
    state.update({f"mapper.{key}": value for key, value in mapper.items()})
    state.update({f"decoder.{key}": value for key, value in decoder.items()})
    checkpoint = {"state_dict": state, "opts": hairclip_opts()}
    torch.save(checkpoint, path)
    return checkpoint
