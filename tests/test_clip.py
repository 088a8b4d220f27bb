"""CLIP guide: strict loading of the hub file and tokenizer, the official CLIPLoss /
AugCLIPLoss maths, the kornia-style augmentations, gradients to the image."""

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from hairedit.errors import CheckpointError, InputError, MissingWeightsError
from hairedit.networks import clip, clip_augment
from tests.official.clip import write_bpe_vocabulary, write_clip
from tests.tolerances import assert_within_rounding, resampling_tolerance, rounding_tolerance

# tests.official.clip's layout for clip.SMALL_CONFIG.
SMALL_LAYOUT = {"text_width": 32, "text_layers": 1, "vision_width": 32, "vision_layers": 1, "projection": 32}


@pytest.fixture(scope="module")
def guide():
    return clip.small_clip(seed=0)


@pytest.fixture
def hub_files(tmp_path):
    state = write_clip(tmp_path / "model.safetensors", **SMALL_LAYOUT)
    vocab, merges, ids = write_bpe_vocabulary(tmp_path / "tokenizer")
    return tmp_path / "model.safetensors", vocab, merges, state, ids


def _image(size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_hub_file_loads_strictly_with_its_numbers(hub_files):
    model_path, vocab, merges, state, _ = hub_files
    guide = clip.load_clip(model_path, vocab, merges, config=clip.SMALL_CONFIG)
    loaded = guide.model.state_dict()
    for key, value in state.items():
        if key not in clip.POSITION_ID_KEYS:
            assert torch.equal(loaded[key], value), key
    assert guide.encode_text(["curly hair"]).shape == (1, 32)


def test_file_without_position_ids_loads_too(tmp_path, hub_files):
    _, vocab, merges, _, _ = hub_files
    write_clip(tmp_path / "new.safetensors", position_ids=False, **SMALL_LAYOUT)
    clip.load_clip(tmp_path / "new.safetensors", vocab, merges, config=clip.SMALL_CONFIG)


def test_misshaped_and_missing_keys_are_named(hub_files):
    model_path, vocab, merges, state, _ = hub_files
    state["text_projection.weight"] = torch.zeros(16, 32)
    del state["vision_model.post_layernorm.bias"]
    save_file(state, str(model_path))
    with pytest.raises(CheckpointError) as raised:
        clip.load_clip(model_path, vocab, merges, config=clip.SMALL_CONFIG)
    assert "missing keys vision_model.post_layernorm.bias" in str(raised.value)
    assert "text_projection.weight (16, 32) (expected (32, 32))" in str(raised.value)


def test_missing_and_broken_files_say_what_to_do(tmp_path, hub_files):
    model_path, vocab, merges, _, _ = hub_files
    with pytest.raises(MissingWeightsError, match="hairedit weights download"):
        clip.load_clip(tmp_path / "absent.safetensors", vocab, merges, config=clip.SMALL_CONFIG)
    with pytest.raises(MissingWeightsError, match="absent.json"):
        clip.load_clip(model_path, tmp_path / "absent.json", merges, config=clip.SMALL_CONFIG)
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        clip.load_clip(tmp_path / "broken.safetensors", vocab, merges, config=clip.SMALL_CONFIG)


def test_vocabulary_larger_than_the_model_is_refused(tmp_path, hub_files):
    _, vocab, merges, _, _ = hub_files
    config = {**clip.SMALL_CONFIG, "text_config": {**clip.SMALL_CONFIG["text_config"], "vocab_size": 1000}}
    write_clip(tmp_path / "m.safetensors", vocab=1000, **SMALL_LAYOUT)
    with pytest.raises(CheckpointError, match="token ids up to 49407"):
        clip.load_clip(tmp_path / "m.safetensors", vocab, merges, config=config)


def test_tokenizer_applies_the_bpe_merges_and_pads_with_end_of_text(hub_files):
    model_path, vocab, merges, _, ids = hub_files
    guide = clip.load_clip(model_path, vocab, merges, config=clip.SMALL_CONFIG)
    tokens = guide.tokenize(["Curly  HAIR"])
    assert tokens.shape == (1, clip.CONTEXT_LENGTH)
    assert tokens[0, :4].tolist() == [49406, ids["curly</w>"], ids["hair</w>"], 49407]
    assert (tokens[0, 4:] == 49407).all()


def test_too_long_description_is_refused(guide):
    with pytest.raises(InputError, match="too long for CLIP"):
        guide.encode_text(["hair " * 80])


def test_resize_is_official_upsample_then_average_pool():
    for size in (64, 256):
        image = _image(size, batch=2)
        official = F.avg_pool2d(F.interpolate(image.double(), scale_factor=7, mode="nearest"), size * 7 // 224)
        # Each output pixel is a weighted sum over the input's rows and columns.
        assert_within_rounding(clip.clip_loss_resize(image), official, torch.float32, reduction=size * size, layers=1)
    constant = torch.full((1, 3, 100, 100), 0.25)
    torch.testing.assert_close(clip.clip_loss_resize(constant), torch.full((1, 3, 224, 224), 0.25))


def test_plain_loss_is_one_minus_official_logits_over_100(guide):
    image, text = _image(64), "short bob"
    official_pixels = F.avg_pool2d(F.interpolate(image, scale_factor=7, mode="nearest"), 2)
    official_pixels = ((official_pixels + 1) / 2 - torch.tensor(clip.CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        clip.CLIP_STD
    ).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = guide.model(input_ids=guide.tokenize([text]), pixel_values=official_pixels).logits_per_image
        loss = guide.loss(image, guide.encode_text([text]), augmentations=1)
    # Both in float32: each within the rounding of the one-block CLIP (its widest sum, the MLP's
    # 4 x 32 inputs; embedding, attention, MLP, projection in sequence) of the exact value.
    tolerance = 2 * rounding_tolerance(torch.float32, magnitude=1.0, reduction=4 * 32, layers=4)
    torch.testing.assert_close(loss, 1 - logits[0, 0] / 100, atol=tolerance, rtol=0)


def test_spherical_distance_known_values():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    expected = torch.tensor([0.0, math.pi**2 / 8, math.pi**2 / 2])
    torch.testing.assert_close(clip.spherical_distance(x, y), expected)


def test_augmented_loss_is_seeded_and_differentiable(guide):
    text = guide.encode_text(["curly hair"])
    image = _image(64).requires_grad_()
    first = guide.loss(image, text, augmentations=8, generator=torch.Generator().manual_seed(1))
    again = guide.loss(image, text, augmentations=8, generator=torch.Generator().manual_seed(1))
    other = guide.loss(image, text, augmentations=8, generator=torch.Generator().manual_seed(2))
    assert first.item() == again.item() != other.item()
    first.backward()
    assert image.grad.abs().sum() > 0 and torch.isfinite(image.grad).all()


def test_plain_loss_reaches_the_image(guide):
    image = _image(64).requires_grad_()
    guide.loss(image, guide.encode_text(["red hair"]), augmentations=1).backward()
    assert image.grad.abs().sum() > 0


def test_a_batch_is_scored_image_by_image(guide):
    images, texts = _image(64, batch=2), guide.encode_text(["curly hair", "bob cut"])
    each = [guide.loss(images[i : i + 1], texts[i : i + 1]) for i in range(2)]
    torch.testing.assert_close(guide.loss(images, texts), torch.stack(each).mean())
    assert torch.isfinite(guide.loss(images, texts, augmentations=8, generator=torch.Generator().manual_seed(0)))


def test_encode_image_takes_any_size(guide):
    for size in (64, 100):
        image = _image(size)
        features = guide.encode_image(image)
        assert features.shape == (1, 32)
        torch.testing.assert_close(features, guide.embed_pixels(clip.clip_loss_resize(image)))


def test_views_are_warped_with_probability_p_and_seeded():
    images = _image(224, batch=6)
    assert torch.equal(clip_augment.augment_views(images, torch.Generator().manual_seed(0), p=0.0), images)
    warped = clip_augment.augment_views(images, torch.Generator().manual_seed(0), p=1.0)
    assert ((warped - images).abs().amax((1, 2, 3)) > 0.1).all()
    repeat = clip_augment.augment_views(images, torch.Generator().manual_seed(0), p=1.0)
    assert torch.equal(warped, repeat)


def test_half_turn_about_the_centre_flips_the_image():
    image = _image(224)
    matrix = clip_augment.affine_matrices(torch.tensor([180.0]), torch.zeros(1, 2), 224, 224)
    tolerance = resampling_tolerance(image, magnification=1.0)  # a turn keeps lengths
    torch.testing.assert_close(clip_augment.warp_affine(image, matrix, "border"), image.flip(-1, -2), atol=tolerance, rtol=0)
    identity = clip_augment.affine_matrices(torch.zeros(1), torch.zeros(1, 2), 224, 224)
    torch.testing.assert_close(clip_augment.warp_affine(image, identity, "border"), image, atol=tolerance, rtol=0)


def test_random_affine_shifts_vertically_only_as_kornia_067():
    matrices = clip_augment.random_affine_matrices(500, 224, 224, torch.Generator().manual_seed(0))
    centre = torch.tensor([111.5, 111.5, 1.0], dtype=torch.float64)
    moved = matrices @ centre
    assert torch.allclose(moved[:, 0], centre[0])  # the centre never moves sideways
    assert (moved[:, 1] - centre[1]).abs().max() <= 22.4 and (moved[:, 1] - centre[1]).abs().max() > 20
    angles = torch.rad2deg(torch.atan2(matrices[:, 1, 0], matrices[:, 0, 0]))
    assert angles.abs().max() <= 15 and angles.abs().max() > 14


def test_perspective_matrix_maps_the_corners_where_asked():
    generator = torch.Generator().manual_seed(0)
    start = torch.rand(3, 4, 2, generator=generator) * 200
    end = start + torch.rand(3, 4, 2, generator=generator) * 20
    homography = clip_augment.perspective_matrices(start, end)
    mapped = torch.cat([start.double(), torch.ones(3, 4, 1, dtype=torch.float64)], -1) @ homography.transpose(1, 2)
    torch.testing.assert_close(mapped[..., :2] / mapped[..., 2:], end.double())


def test_small_clip_is_seeded():
    a, b, c = clip.small_clip(seed=3), clip.small_clip(seed=3), clip.small_clip(seed=4)
    key = "visual_projection.weight"
    assert torch.equal(a.model.state_dict()[key], b.model.state_dict()[key])
    assert not torch.equal(a.model.state_dict()[key], c.model.state_dict()[key])
