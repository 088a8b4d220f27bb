"""HairCLIP v1's mapper: the official file loads strictly (its OpenAI-layout CLIP included), a
broken one is named, the text templates and conditioning are the official ones, and the
embeddings and edited latents are the official code's numbers
(tests/golden/hairclip_mapper.npz, made as docs/golden_instant.md says)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.data import astronaut

from hairedit.checkpoints import check_decoder
from hairedit.errors import CheckpointError, MissingWeightsError
from hairedit.networks import hairclip_mapper as hc
from hairedit.networks.clip import CLIP_MEAN, CLIP_STD, VIT_B_32, small_clip
from hairedit.networks.clip_openai import openai_to_transformers, uninitialised_clip_model
from tests.official.ffhq import generator_shapes
from tests.official.hairclip import mapper_shapes, openai_clip_shapes, write_hairclip
from tests.official.layout import compact_state

GOLDEN = Path(__file__).parent / "golden" / "hairclip_mapper.npz"
# Float32 tolerances against the official float64 values (docs/golden_instant.md):
# CLIP embeddings: sqrt(26 layers) * sqrt(3072 fan-in) * 2**-24 * max |e| (3.3) = 5.6e-5, measured 3.0e-6;
# edited latents: 0.1 * (the mapper's own rounding plus the embeddings' error carried through
# its five modulations) = 4e-5, measured 1.0e-6.
EMBEDDING_ATOL = 1e-4
LATENT_ATOL = 5e-5
FLOAT64_ATOL = 1e-10  # measured 0 (mapper) and 9e-15 (CLIP)
# (golden key, hairstyle embedding key, colour embedding key)
CASES = [
    ("w_hat_hairstyle_text", "hairstyle_text_embedding", None),
    ("w_hat_color_image", None, "color_ref_embedding"),
    ("w_hat_hairstyle_image_color_text", "hairstyle_ref_embedding", "color_text_embedding"),
]


def official_references() -> dict:
    """The golden reference photos (1024 px, [-1, 1] as ToTensor + Normalize(0.5, 0.5) give
    them) and their hair masks: the astronaut doubled, with the top 400 rows as hair; the
    same mirrored with its channels reversed, with a disc as hair."""
    crop = np.repeat(np.repeat(astronaut(), 2, axis=0), 2, axis=1)
    yy, xx = np.mgrid[0:1024, 0:1024]
    masks = {"hairstyle_ref": yy < 400, "color_ref": (yy - 300) ** 2 + (xx - 512) ** 2 < 350**2}
    images = {"hairstyle_ref": crop, "color_ref": crop[:, ::-1, ::-1]}

    def tensor(image):
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255).sub(0.5).div(0.5)[None]

    return {name: (tensor(images[name]), torch.from_numpy(masks[name].astype(np.float32))[None, None]) for name in masks}


@pytest.fixture
def compact_file(tmp_path):
    path = tmp_path / "hairclip.pt"
    return path, write_hairclip(path, compact=True)


@pytest.fixture(scope="module")
def golden_hairclip(tmp_path_factory):
    """The full-size file with the seeded random mapper and CLIP the golden values were
    computed on (the decoder, unused there, one number per tensor), loaded; the file is
    deleted after loading. Its tokenizer gives the official token ids of the golden prompts."""
    golden = np.load(GOLDEN)
    path = tmp_path_factory.mktemp("hairclip") / "hairclip.pt"
    write_hairclip(path, seed=0, decoder=compact_state(generator_shapes(1024)))
    hairclip = hc.load_hairclip_mapper(path)
    path.unlink()
    official_ids = {
        str(golden["hairstyle_prompt"]): torch.from_numpy(golden["hairstyle_tokens"]).long(),
        str(golden["color_prompt"]): torch.from_numpy(golden["color_tokens"]).long(),
    }
    hairclip.clip.tokenizer = "the official ids"
    hairclip.clip.tokenize = lambda texts: official_ids[texts[0]]  # KeyError on any other prompt
    return hairclip


def test_every_key_and_shape_matches_the_official_mapper():
    assert {key: tuple(v.shape) for key, v in hc.HairMapper().state_dict().items()} == mapper_shapes()
    assert len(mapper_shapes()) == 210 and len(openai_clip_shapes()) == 302


def test_openai_clip_keys_map_onto_the_transformers_model():
    model = uninitialised_clip_model(VIT_B_32)
    converted = openai_to_transformers(compact_state(openai_clip_shapes()), model, "test")
    assert {key: tuple(v.shape) for key, v in converted.items()} == {
        key: tuple(v.shape) for key, v in model.state_dict().items()
    }


def test_official_layout_loads_computing_in_float32_without_the_decoder(compact_file):
    path, checkpoint = compact_file
    assert checkpoint["state_dict"]["mapper.clip_model.visual.proj"].dtype == torch.float16
    hairclip = hc.load_hairclip_mapper(path)
    assert hairclip.mapper.n_latent == 18
    # The file's fp16 weights stay fp16 in memory, and read as float32 wherever used.
    assert all(v.dtype == torch.float32 for v in hairclip.mapper.state_dict().values() if v.is_floating_point())
    visual = hairclip.clip.model.visual_projection
    assert visual.parametrizations.weight.original.dtype == torch.float16 and visual.weight.dtype == torch.float32
    expected = checkpoint["state_dict"]["mapper.clip_model.visual.proj"].float().t()
    assert torch.equal(visual.weight, expected)
    assert not any(key.startswith("decoder") for key in hairclip.state_dict())
    assert len(hairclip.decoder_digests) == 171
    assert check_decoder(hairclip.decoder_digests, _constant_generator(), "hairclip.pt").equal


def _constant_generator():
    from hairedit.networks.stylegan2 import Generator

    generator = Generator(1024)
    generator.load_state_dict(compact_state(generator_shapes(1024)))
    return generator


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("mapper.fine_mapping.modulation_module_list.4.fc.bias"),
         r"missing keys fine_mapping\.modulation_module_list\.4\.fc\.bias"),
        (lambda s: s.__setitem__("mapper.coarse_mapping.x", torch.zeros(1)), r"unexpected keys coarse_mapping\.x"),
        (lambda s: s.__setitem__("discriminator.weight", torch.zeros(1)), r"unexpected keys discriminator\.weight"),
        (lambda s: s.pop("mapper.clip_model.visual.transformer.resblocks.11.ln_2.bias"),
         r"missing keys mapper\.clip_model\.visual\.transformer\.resblocks\.11\.ln_2\.bias"),
        (lambda s: s.__setitem__("mapper.clip_model.transformer.resblocks.3.attn.in_proj_weight", torch.zeros(1536, 256)),
         r"mapper\.clip_model\.transformer\.resblocks\.3\.attn\.in_proj_weight \(1536, 256\) \(expected \(1536, 512\)\)"),
        (lambda s: s.__setitem__("mapper.clip_model.visual.proj", torch.zeros(512, 768)),
         r"visual\.proj \(512, 768\) \(expected \(768, 512\)\)"),
    ],
    ids=["missing", "unexpected", "unexpected-prefix", "clip-missing", "clip-misshaped", "clip-transposed"],
)
def test_a_broken_file_is_named(compact_file, change, message):
    path, checkpoint = compact_file
    change(checkpoint["state_dict"])
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=message):
        hc.load_hairclip_mapper(path)


def test_prompts_are_the_official_templates():
    golden = np.load(GOLDEN)
    assert hc.hairstyle_prompt("bob cut") == hc.hairstyle_prompt(" bob  cut hairstyle") == str(golden["hairstyle_prompt"])
    assert hc.color_prompt("purple") == hc.color_prompt("purple hair") == str(golden["color_prompt"])


def test_hairstyle_conditions_the_coarse_rows_and_colour_the_fine_rows():
    hairclip = hc.small_hairclip_mapper(seed=0)
    latent = torch.randn(1, 10, 64, generator=torch.Generator().manual_seed(1))
    bob, afro = hairclip.hairstyle_text_embedding("bob cut"), hairclip.hairstyle_text_embedding("afro")
    red = hairclip.color_text_embedding("red")
    assert bob.shape == (1, 32)
    first, second = hairclip.edit(latent, bob, red), hairclip.edit(latent, afro, red)
    assert not torch.allclose(first[:, :8], second[:, :8]) and torch.equal(first[:, 8:], second[:, 8:])
    # without a colour the fine rows still move, unmodulated, as the official mapper does
    hairstyle_only = hairclip.edit(latent, bob)
    assert torch.equal(hairstyle_only[:, :8], first[:, :8]) and not torch.allclose(hairstyle_only[:, 8:], latent[:, 8:])
    assert not torch.allclose(hairstyle_only[:, 8:], first[:, 8:])
    with pytest.raises(ValueError, match="hairstyle or a colour"):
        hairclip.edit(latent)


def test_reference_embedding_sees_only_the_hair():
    hairclip = hc.small_hairclip_mapper(seed=0, clip=small_clip(seed=3))
    image = torch.rand(1, 3, 96, 96) * 2 - 1
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., :40, :] = 1
    other = image.clone()
    other[..., 40:, :] = -image[..., 40:, :]  # a different face below the hair
    embedding = hairclip.reference_embedding(image, mask)
    assert embedding.shape == (1, 32)
    assert torch.equal(embedding, hairclip.reference_embedding(other, mask))
    assert not torch.allclose(embedding, hairclip.reference_embedding(image, torch.ones_like(mask)))


def test_text_without_tokenizer_says_what_to_download(compact_file):
    hairclip = hc.load_hairclip_mapper(compact_file[0])
    with pytest.raises(MissingWeightsError, match="clip_vocab.json"):
        hairclip.hairstyle_text_embedding("bob cut")


@pytest.fixture(scope="module")
def our_embeddings(golden_hairclip):
    """hairedit's four embeddings of the golden conditions, through the public methods."""
    references = official_references()
    return {
        "hairstyle_text_embedding": golden_hairclip.hairstyle_text_embedding("bob cut"),
        "color_text_embedding": golden_hairclip.color_text_embedding("purple"),
        **{f"{name}_embedding": golden_hairclip.reference_embedding(*pair) for name, pair in references.items()},
    }


def test_embeddings_are_the_official_ones(our_embeddings):
    golden = np.load(GOLDEN)
    for key, value in our_embeddings.items():
        assert value.shape == (1, 512) and value.dtype == torch.float32
        assert np.abs(value.double().numpy() - golden[key]).max() < EMBEDDING_ATOL, key


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_edited_latents_are_the_official_ones(golden_hairclip, our_embeddings, case):
    golden = np.load(GOLDEN)
    key, hairstyle_key, color_key = case
    hairstyle, color = (our_embeddings[k] if k else None for k in (hairstyle_key, color_key))
    edited = golden_hairclip.edit(torch.from_numpy(golden["w"]), hairstyle, color)
    assert edited.shape == (1, 18, 512)
    assert np.abs(edited.double().numpy() - golden[key]).max() < LATENT_ATOL


def test_same_maths_as_the_official_code_in_float64(golden_hairclip):
    """In float64 the rounding vanishes: the mapper and both CLIP towers (fed the official
    preprocessing) give the official float64 numbers to 1e-10."""
    golden = np.load(GOLDEN)
    hairclip = golden_hairclip.double()
    try:
        for key, hairstyle_key, color_key in CASES:
            hairstyle, color = (torch.from_numpy(golden[k]) if k else None for k in (hairstyle_key, color_key))
            edited = hairclip.edit(torch.from_numpy(golden["w"]).double(), hairstyle, color)
            assert np.abs(edited.numpy() - golden[key]).max() < FLOAT64_ATOL, key
        model = hairclip.clip.model
        with torch.no_grad():
            for kind in ("hairstyle", "color"):
                ids = torch.from_numpy(golden[f"{kind}_tokens"]).long()
                embedding = model.text_projection(model.text_model(input_ids=ids).pooler_output)
                assert np.abs(embedding.numpy() - golden[f"{kind}_text_embedding"]).max() < FLOAT64_ATOL
            mean = torch.tensor(CLIP_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
            std = torch.tensor(CLIP_STD, dtype=torch.float64).view(1, 3, 1, 1)
            for name, (image, mask) in official_references().items():
                pooled = torch.nn.functional.adaptive_avg_pool2d(image.double() * mask.double(), 224)
                pixels = (pooled * 0.5 + 0.5 - mean) / std
                embedding = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
                assert np.abs(embedding.numpy() - golden[f"{name}_embedding"]).max() < FLOAT64_ATOL, name
    finally:
        golden_hairclip.float()
