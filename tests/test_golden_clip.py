"""CLIP ViT-B/32 and HairCLIPv2's CLIP losses equal OpenAI's ``clip`` package and the official
``CLIPLoss`` / ``AugCLIPLoss`` number for number.

tests/golden/clip.npz holds what the official code computed in float64 on the CLIP weights
``tests.official.clip.write_clip(scaled=True)`` writes (converted to OpenAI's layout) and the
inputs of tests/golden_inputs.py (docs/golden.md). hairedit runs in float32, as it does in use,
and must agree to float32 rounding (tests/tolerances.py).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hairedit.checkpoints import load_strict
from hairedit.networks import clip, clip_tokenizer
from tests.golden_inputs import astronaut_image, kornia_views
from tests.official.clip import write_bpe_vocabulary, write_clip
from tests.tolerances import assert_within_rounding

# The widest sum in a block (the vision MLP's 3072 inputs) and the sums in sequence: 12 blocks
# of attention and MLP, plus embedding and projection.
REDUCTION, LAYERS = 3072, 2 * 12 + 2
END_OF_TEXT = 49407


@pytest.fixture(scope="module")
def expected():
    with np.load(Path(__file__).parent / "golden" / "clip.npz", allow_pickle=False) as data:
        return {key: torch.from_numpy(data[key]) if data[key].dtype.kind != "U" else list(data[key]) for key in data.files}


@pytest.fixture(scope="module")
def guide(expected, tmp_path_factory):
    """The real ViT-B/32 configuration with the golden run's weights, and a vocabulary that gives
    the golden texts' words their real token ids."""
    model = clip.build_clip_model(clip.VIT_B_32)
    load_strict(model, write_clip(None, scaled=True, float16_values=True), "write_clip", ignored_keys=clip.POSITION_ID_KEYS)
    word_ids = dict(zip(expected["words"], expected["word_ids"].tolist()))
    vocab, merges, _ = write_bpe_vocabulary(tmp_path_factory.mktemp("clip_vocab"), word_ids)
    return clip.CLIPGuide(model.eval().requires_grad_(False), clip_tokenizer.load_tokenizer(vocab, merges))


@pytest.fixture(scope="module")
def images():
    return torch.cat([astronaut_image(1024, "face"), astronaut_image(1024, "suit")])


def test_texts_become_the_official_tokens(guide, expected):
    tokens = guide.tokenize(expected["texts"])
    official = expected["token_ids"].long()
    # clip.tokenize pads with 0, hairedit with end-of-text: CLIP reads the first end-of-text,
    # and the causal mask keeps what follows it from mattering.
    ends = (official == END_OF_TEXT).int().argmax(1)
    for row, end in enumerate(ends.tolist()):
        assert torch.equal(tokens[row, : end + 1], official[row, : end + 1])
        assert torch.all(tokens[row, end + 1 :] == END_OF_TEXT) and torch.all(official[row, end + 1 :] == 0)


def test_text_and_image_embeddings_equal_openai_clips(guide, expected, images):
    assert_within_rounding(guide.encode_text(expected["texts"]), expected["text_features"], torch.float32, REDUCTION, LAYERS)
    with torch.no_grad():
        embedded = guide.encode_image(images)
    assert_within_rounding(embedded, expected["image_features"], torch.float32, REDUCTION, LAYERS)


def test_clip_loss_equals_the_official_clip_loss(guide, expected, images):
    texts = guide.encode_text(expected["texts"])
    with torch.no_grad():
        losses = torch.stack([torch.stack([guide.loss(image[None], text[None]) for text in texts]) for image in images])
    # 1 - cos: the cosine carries the embeddings' relative rounding, at a scale of 1.
    assert_within_rounding(losses, expected["clip_loss"], torch.float32, REDUCTION, LAYERS)


def test_augmented_clip_loss_equals_the_official_one_on_its_views(guide, expected, images, monkeypatch):
    # The views kornia drew in the official run, replayed by hairedit's warps (their
    # distributions are checked in test_golden_losses.py).
    monkeypatch.setattr(clip, "augment_views", lambda views, generator=None: kornia_views(views, expected))
    image = images[:1].clone().requires_grad_(True)
    loss = guide.loss(image, guide.encode_text(expected["texts"][:1]), augmentations=8)
    # The official loss computes its distances in float32 (it casts the embeddings).
    assert_within_rounding(loss, expected["aug_clip_loss"], torch.float32, REDUCTION, LAYERS)
    loss.backward()
    pooled = F.avg_pool2d(image.grad, 32) * 32 * 32
    # The gradient also sums over the 1024 x 1024 image's pooling windows.
    assert_within_rounding(pooled, expected["aug_grad_pooled"], torch.float32, REDUCTION * 32 * 32, LAYERS)
