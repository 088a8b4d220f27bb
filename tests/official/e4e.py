"""e4e_ffhq_encode.pt (encoder4editing): {"state_dict": pSp state dict ("encoder.*" an
Encoder4Editing, IR-SE-50; "decoder.*" a rosinality StyleGAN2 1024), "latent_avg": (18, 512),
"opts": the training options as a dict (vars of options/train_options.py's namespace)}."""

from __future__ import annotations

import math

import torch

from .ffhq import generator_shapes
from .ir_se import ir_se_50_shapes, prelu_keys
from .layout import compact_state, random_state, scaled_random_state


def style_count(stylegan_size: int = 1024) -> int:
    return 2 * int(math.log2(stylegan_size)) - 2


def e4e_encoder_shapes(stylegan_size: int = 1024) -> dict:
    """Encoder4Editing(50, 'ir_se', opts): the backbone, styles.0-17 (GradualStyleBlock(512,
    512, 16) for rows < 3, 32 for rows < 7, 64 after), latlayer1 (256 -> 512), latlayer2
    (128 -> 512)."""
    shapes = ir_se_50_shapes(3)
    for row in range(style_count(stylegan_size)):
        spatial = 16 if row < 3 else 32 if row < 7 else 64
        for conv in range(int(math.log2(spatial))):  # Conv2d, LeakyReLU pairs
            shapes[f"styles.{row}.convs.{2 * conv}.weight"] = (512, 512, 3, 3)
            shapes[f"styles.{row}.convs.{2 * conv}.bias"] = (512,)
        shapes[f"styles.{row}.linear.weight"] = (512, 512)  # EqualLinear
        shapes[f"styles.{row}.linear.bias"] = (512,)
    shapes["latlayer1.weight"] = (512, 256, 1, 1)
    shapes["latlayer1.bias"] = (512,)
    shapes["latlayer2.weight"] = (512, 128, 1, 1)
    shapes["latlayer2.bias"] = (512,)
    return shapes


def e4e_opts(stylegan_size: int = 1024) -> dict:
    """Every option of options/train_options.py, with the FFHQ model's settings, plus the
    ``device`` the coach adds."""
    return {
        "exp_dir": "experiments/ffhq_encode", "dataset_type": "ffhq_encode", "encoder_type": "Encoder4Editing",
        "batch_size": 8, "test_batch_size": 4, "workers": 8, "test_workers": 4, "learning_rate": 0.0001,
        "optim_name": "ranger", "train_decoder": False, "start_from_latent_avg": True, "lpips_type": "alex",
        "lpips_lambda": 0.8, "id_lambda": 0.5, "l2_lambda": 1.0,
        "stylegan_weights": "pretrained_models/stylegan2-ffhq-config-f.pt", "stylegan_size": stylegan_size,
        "checkpoint_path": None, "max_steps": 300000, "image_interval": 100, "board_interval": 50,
        "val_interval": 10000, "save_interval": 200000, "w_discriminator_lambda": 0.1,
        "w_discriminator_lr": 2e-05, "r1": 10, "d_reg_every": 16, "use_w_pool": True, "w_pool_size": 50,
        "delta_norm": 2, "delta_norm_lambda": 0.0002, "progressive_steps": [0] + list(range(20000, 54000, 2000)),
        "progressive_start": 20000, "progressive_step_every": 2000, "save_training_data": False,
        "sub_exp_dir": None, "keep_optimizer": False, "resume_training_from_ckpt": None,
        "update_param_list": None, "device": "cuda:0",
    }


def e4e_encoder_state(seed: int = 0) -> dict:
    """Random encoder weights that keep activations of order one (see scaled_random_state)."""
    shapes = e4e_encoder_shapes()
    linear = [key for key in shapes if key.endswith(".linear.weight")]  # EqualLinear scales at run time
    return scaled_random_state(shapes, seed, slope_keys=prelu_keys(shapes), unscaled_keys=linear)


def write_e4e(path, seed: int = 0, decoder: dict | None = None, compact: bool = False) -> dict:
    """The whole file, encoder weights from :func:`e4e_encoder_state` (``seed``).
    ``decoder``: a ``g_ema`` state dict to embed (e.g. ffhq.pt's), else a random generator.
    ``compact``: every tensor one stored number (see compact_state), for tests of keys and
    shapes only."""
    if compact:
        encoder = compact_state(e4e_encoder_shapes())
        decoder = decoder if decoder is not None else compact_state(generator_shapes(1024))
    else:
        encoder = e4e_encoder_state(seed)
        decoder = decoder if decoder is not None else random_state(generator_shapes(1024), seed + 1)
    state = {f"encoder.{key}": value for key, value in encoder.items()}
    state.update({f"decoder.{key}": value for key, value in decoder.items()})
    latent_avg = torch.randn(18, 512, generator=torch.Generator().manual_seed(seed + 2))
    checkpoint = {"state_dict": state, "latent_avg": latent_avg, "opts": e4e_opts()}
    torch.save(checkpoint, path)
    return checkpoint
