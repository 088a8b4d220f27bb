"""`hairedit eval`'s metrics are the published ones: each checked against a reference
implementation (pytorch-fid, transformers' CLIP with its own image processor, scipy) on the
same random weights, and LPIPS outside the hair does not depend on the size of the hair."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from hairedit.evaluate import agreement
from hairedit.evaluate.pixels import masked_lpips
from hairedit.evaluate.sets import embed, frechet_distance, frechet_interval
from hairedit.networks.clip import CLIP_MEAN, CLIP_STD, small_clip
from hairedit.networks.inception import load_inception
from hairedit.networks.vgg import small_lpips
from tests.golden_inputs import astronaut_image
from tests.official.inception import write_inception

GOLDEN = Path(__file__).parent / "golden"


def test_lpips_outside_the_hair_does_not_shrink_as_the_hair_grows():
    """A pair alike everywhere (a random texture, changed by the same noise everywhere): scored
    outside a hair region of 10% and of 60% of the picture, LPIPS is about the same (averaged
    over the whole picture, with the region's pixels zero in both, the second would be under
    half the first)."""
    rng = np.random.default_rng(0)
    photo = rng.integers(40, 216, (512, 512, 3)).astype(np.uint8)
    noise = rng.normal(0, 12, photo.shape)
    changed = np.clip(photo + noise, 0, 255).astype(np.uint8)
    lpips = small_lpips(0)
    scores = []
    for hair_rows in (51, 307):  # 10% and 60% of 512 rows
        keep = np.ones(photo.shape[:2], bool)
        keep[:hair_rows] = False
        scores.append(masked_lpips(lpips, photo, changed, keep))
    assert scores[1] == pytest.approx(scores[0], rel=0.1)
    assert scores[0] > 0


def test_lpips_outside_is_zero_where_only_the_hair_changed_and_counts_only_kept_pixels():
    photo = data.astronaut()
    keep = np.ones(photo.shape[:2], bool)
    keep[:200] = False
    changed = photo.copy()
    changed[:200] = 255 - changed[:200]
    assert masked_lpips(small_lpips(0), photo, changed, keep) == 0.0
    spatial_mean = small_lpips(0).spatial(*(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
                                            for image in (photo, changed)))
    assert float(spatial_mean.mean()) > 0.01  # everywhere, the change is seen


# -- FID: pytorch-fid's network, scipy's distance ---------------------------------------------------


@pytest.fixture(scope="module")
def fid_state(tmp_path_factory):
    """Random weights in pytorch-fid's published layout, scaled to keep activations alive."""
    path = tmp_path_factory.mktemp("fid") / "pt_inception-2015-12-05-6726825d.pth"
    return path, write_inception(path, scaled=True)


def test_fid_features_equal_those_pytorch_fid_computed_on_torchvision(fid_state):
    """tests/golden/fid_inception.npz: pytorch-fid's InceptionV3 on the real torchvision's
    Inception3, in float64 (tools/golden/fid_inception_npz.py, docs/golden.md)."""
    expected = torch.from_numpy(np.load(GOLDEN / "fid_inception.npz")["features"])
    ours = load_inception(fid_state[0]).double()
    images = torch.cat([astronaut_image(256, "face"), astronaut_image(256, "suit")]).double()
    with torch.no_grad():
        features = ours(images)
    assert expected.std() > 0.01  # alive: not a comparison of zeros
    # float64 maths: 94 layers of sums of up to 2048 x 9 products agree to about 1e-13.
    torch.testing.assert_close(features, expected, rtol=0, atol=1e-10 * float(expected.abs().max()))


def test_fid_features_equal_pytorch_fids_on_the_same_weights(fid_state):
    """pytorch-fid 0.3.0's own InceptionV3 (its installed file, loaded with tests/torchvision_shim.py
    as the torchvision it builds on) and hairedit's, on one state dict, in float32 as they run:
    the same 2048 pool features."""
    from tests.torchvision_shim import load_pytorch_fid_inception

    path, state = fid_state
    reference = load_pytorch_fid_inception(state).InceptionV3([3]).eval()
    ours = load_inception(path)
    images = torch.rand(3, 3, 256, 256, generator=torch.Generator().manual_seed(1))  # [0, 1], as pytorch-fid takes
    with torch.no_grad():
        expected = reference(images)[0].flatten(1)
        features = ours(images * 2 - 1)
    assert features.std() > 1e-3  # alive: not a comparison of zeros
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def test_frechet_distance_equals_pytorch_fids_with_scipy():
    from tests.torchvision_shim import import_pytorch_fid

    calculate_frechet_distance = import_pytorch_fid("fid_score").calculate_frechet_distance  # scipy's sqrtm

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 16)), rng.normal(size=(40, 16)) * 1.3 + 0.2
    expected = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_intervals_are_seeded_bootstrap_intervals_around_the_sets_fid():
    rng = np.random.default_rng(2)
    before = rng.normal(size=(30, 6))
    after = before + rng.normal(0.5, 0.3, size=(30, 6))
    interval = frechet_interval(after, before)
    assert interval.value == frechet_distance(after, before) and interval.count == 30
    assert interval.low < interval.value < interval.high
    assert frechet_interval(after, before) == interval  # seeded: the same set, the same interval
    assert frechet_interval(after, before, seed=1) != interval
    wider = frechet_interval(after[:8], before[:8])
    assert wider.high - wider.low > interval.high - interval.low  # fewer edits, less certainty
    assert math.isnan(frechet_interval(after[:2], before[:2]).low)
    # percentile bootstrap: the interval is that of the resampled FIDs, by definition
    draws = np.random.default_rng(0)
    values = []
    while len(values) < 200:
        chosen = draws.integers(0, 30, 30)
        if len(np.unique(chosen)) >= 2:
            values.append(frechet_distance(after[chosen], before[chosen]))
    assert (interval.low, interval.high) == tuple(np.percentile(values, [2.5, 97.5]))


# -- CLIP score and FID_CLIP: transformers' CLIPModel and image processor ---------------------------


@pytest.fixture(scope="module")
def clip_pair():
    """hairedit's CLIP and transformers' CLIPModel built from the same config with its weights."""
    from transformers import CLIPModel

    ours = small_clip(0)
    reference = CLIPModel(ours.model.config).eval()
    reference.load_state_dict(ours.model.state_dict())
    return ours, reference


def test_clip_score_is_clips_own_preprocessing_and_cosine(clip_pair):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    ours, reference = clip_pair
    photo = data.astronaut()[40:440, :]  # not square: the shorter side to 224, then the centre
    processor = CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                                      image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    pixels = torch.as_tensor(np.asarray(processor(images=photo, return_tensors="np")["pixel_values"]))
    text = "bob cut hairstyle"
    with torch.no_grad():
        image_features = reference.get_image_features(pixel_values=pixels)
        text_features = reference.get_text_features(input_ids=ours.tokenize([text]))
    image_features = getattr(image_features, "pooler_output", image_features)
    text_features = getattr(text_features, "pooler_output", text_features)
    cosine = F.cosine_similarity(image_features, text_features).item()
    assert agreement.clip_score(ours, photo, text) == pytest.approx(100 * max(cosine, 0), abs=1e-3)
    assert agreement.clip_pixels(photo).shape == (1, 3, 224, 224)


def test_fid_clip_features_are_hairfastgans(clip_pair):
    """HairFastGAN's scripts/fid_metric.py: uint8 / 255, AdaptiveAvgPool2d(224), CLIP's
    normalisation, encode_image; here with transformers' CLIPModel as the encoder."""
    ours, reference = clip_pair
    crops = [np.random.default_rng(seed).integers(0, 256, (300, 300, 3), dtype=np.uint8) for seed in (0, 1, 2)]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
    pooled = F.adaptive_avg_pool2d(batch / 255, (224, 224))
    normalised = (pooled - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference.get_image_features(pixel_values=normalised)
    expected = getattr(expected, "pooler_output", expected)
    features = embed(agreement.fid_clip_features(ours), crops, "cpu")
    np.testing.assert_allclose(features, expected.double().numpy(), rtol=1e-4, atol=1e-5)
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-9)



def test_each_metric_names_the_registry_files_its_networks_load():
    """needs.NETWORK_FILES against the registry: a file listed is a real entry, and every entry
    that loads into a network a metric runs is listed for it (a new file cannot be forgotten)."""
    from hairedit.evaluate.needs import METRIC_NETWORKS, NETWORK_FILES
    from hairedit.weights.registry import WEIGHTS

    assert {name for files in NETWORK_FILES.values() for name in files} <= set(WEIGHTS)
    for network in {network for networks in METRIC_NETWORKS.values() for network in networks}:
        loaded_into = {name for name, entry in WEIGHTS.items() if network in entry.networks}
        assert loaded_into <= set(NETWORK_FILES[network]), network
    assert METRIC_NETWORKS["psnr"] == METRIC_NETWORKS["ssim"] == ()
