"""tests/golden/hairclip_mapper.npz from HairCLIP's own mapper and inference code.

    python tools/golden/hairclip_mapper_npz.py HAIRCLIP_CHECKOUT OUT.npz

HairCLIP v1 (wty-ustc/HairCLIP) as ``mapper/scripts/inference.py`` runs it, in float64: the
weights file ``write_hairclip(seed=0)`` (tests/official/hairclip.py) loaded by the official
``HairCLIPMapper`` (strictly, CLIP included); a latent ``w = randn(1, 18, 512)`` (generator
seeded 7); the official ``LatentsDatasetInference`` and ``run_on_batch`` for three cases:
``hairstyle_text`` (the hairstyle list "bob cut hairstyle"), ``color_image`` and
``hairstyle_image_color_text`` (``color_description`` "purple"); the reference photos the
astronaut doubled to 1024 px (hairstyle) and the same mirrored with its channels reversed
(colour), saved as PNG and read by the dataset. Departures, none changing the maths:

- ``clip.load("ViT-B/32")`` (a download) does what ``clip.load(path, device="cpu")`` does with
  a state dict, ``build_model(state).float()``; the mapper's weights file then loads its
  ``mapper.clip_model.*`` over it, as in the real inference;
- the reference's hair mask: the official ``AvgLabLoss.gen_hair_mask`` needs HairCLIP's
  ``parsenet.pth``; the references are multiplied by fixed masks instead (rows < 400 for the
  hairstyle, the disc ``(y - 300)^2 + (x - 512)^2 < 350^2`` for the colour);
- the decoder, loaded strictly, is replaced by a module returning the latent it is given
  (``run_on_batch`` renders images, which are not compared);
- float64: CLIP's ``LayerNorm`` (a float32 cast that guards fp16) runs as ``nn.LayerNorm``,
  ``Tensor.float`` leaves float64 tensors as they are (the mapper casts its embeddings), and
  the CUDA operators are tools/golden/_cpu_ops.py.

Stored: the prompts, their ``clip.tokenize`` ids, ``w`` (float32), the four CLIP embeddings and
the three edited latents (float64).
"""

from __future__ import annotations

import sys
import tempfile
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from _cpu_ops import install
from _official import numpy_of, prepare

CASES = {  # name -> (editing_type, input_type)
    "hairstyle_text": ("hairstyle", "text"),
    "color_image": ("color", "image"),
    "hairstyle_image_color_text": ("both", "image_text"),
}


class LatentOut(nn.Module):
    """Stands for the StyleGAN2 decoder: gives back the latent, for the image and the latent."""

    def forward(self, styles, **kwargs):
        return styles[0], styles[0]


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    sys.path.insert(1, str(Path(checkout).resolve() / "mapper"))  # the dataset imports `training`
    install()
    import clip
    import clip.model
    from skimage.data import astronaut

    from tests.official.hairclip import hairclip_opts, hairclip_parts, write_hairclip

    clip.model.LayerNorm.forward = nn.LayerNorm.forward
    clip_state = hairclip_parts(0)[0]
    clip.load = lambda name, device="cpu", **kwargs: (clip.model.build_model(clip_state).to("cpu").float(), None)
    as_float32 = torch.Tensor.float
    torch.Tensor.float = lambda self, *args, **kwargs: self if self.dtype == torch.float64 else as_float32(self)

    from mapper.datasets.latents_dataset_inference import LatentsDatasetInference
    from mapper.hairclip_mapper import HairCLIPMapper
    from mapper.scripts.inference import run_on_batch

    scratch = Path(tempfile.mkdtemp(prefix="golden-hairclip-"))
    write_hairclip(scratch / "hairclip.pt", seed=0)
    crop = np.repeat(np.repeat(astronaut(), 2, axis=0), 2, axis=1)
    yy, xx = np.mgrid[0:1024, 0:1024]
    masks = {"hairstyle": yy < 400, "color": (yy - 300) ** 2 + (xx - 512) ** 2 < 350**2}
    for name, image in (("hairstyle", crop), ("color", np.ascontiguousarray(crop[:, ::-1, ::-1]))):
        (scratch / name).mkdir()
        Image.fromarray(image).save(scratch / name / f"{name}.png")
    (scratch / "hairstyle_list.txt").write_text("bob cut hairstyle\n")

    opts = Namespace(**{**hairclip_opts(), "checkpoint_path": str(scratch / "hairclip.pt"),
                        "hairstyle_description": str(scratch / "hairstyle_list.txt"), "color_description": "purple",
                        "hairstyle_ref_img_test_path": str(scratch / "hairstyle"),
                        "color_ref_img_test_path": str(scratch / "color"), "num_of_ref_img": 1})
    net = HairCLIPMapper(opts).eval().double()
    net.decoder = LatentOut()
    w = torch.randn(1, 18, 512, generator=torch.Generator().manual_seed(7), dtype=torch.float32)
    stored = {"w": w.numpy()}
    with torch.no_grad():
        for case, (editing_type, input_type) in CASES.items():
            net.opts.editing_type, net.opts.input_type = editing_type, input_type
            latent, hairstyle_tokens, color_tokens, _, hairstyle_images, color_images = \
                LatentsDatasetInference(latents=w, opts=net.opts)[0]
            hairstyle_tokens, color_tokens = hairstyle_tokens[0][None], color_tokens[0][None]
            hairstyle_masked = _masked(hairstyle_images[0], masks["hairstyle"])
            color_masked = _masked(color_images[0], masks["color"])
            w_hat = run_on_batch(latent[None].double(), hairstyle_tokens, color_tokens, hairstyle_masked,
                                 color_masked, net)[1]
            stored[f"w_hat_{case}"] = numpy_of(w_hat)
            _embeddings(net, stored, hairstyle_tokens, color_tokens, hairstyle_masked, color_masked)
    stored["hairstyle_prompt"], stored["color_prompt"] = "bob cut hairstyle", "purple hair"
    np.savez(out, **stored)


def _masked(image: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """A reference (3, S, S) as a batch, times its hair mask; the dataset's placeholder as run() makes it."""
    if image.ndim == 1:
        return torch.Tensor([0]).unsqueeze(0)
    return image[None].double() * torch.from_numpy(mask.astype(np.float64))[None, None]


def _embeddings(net, stored: dict, hairstyle_tokens, color_tokens, hairstyle_masked, color_masked) -> None:
    """The CLIP embeddings the mapper computed for this case, through its own calls."""
    mapper = net.mapper
    if hairstyle_tokens.shape[1] != 1:
        stored["hairstyle_tokens"] = hairstyle_tokens.numpy()
        stored["hairstyle_text_embedding"] = numpy_of(mapper.clip_model.encode_text(hairstyle_tokens))
    if color_tokens.shape[1] != 1:
        stored["color_tokens"] = color_tokens.numpy()
        stored["color_text_embedding"] = numpy_of(mapper.clip_model.encode_text(color_tokens))
    for name, masked in (("hairstyle_ref", hairstyle_masked), ("color_ref", color_masked)):
        if masked.shape[1] != 1:
            stored[f"{name}_embedding"] = numpy_of(mapper.gen_image_embedding(masked, mapper.clip_model, None))


if __name__ == "__main__":
    main(*sys.argv[1:3])
