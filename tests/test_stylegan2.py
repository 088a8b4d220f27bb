import contextlib
import copy

import numpy as np
import pytest
import scipy.signal
import torch

from hairedit.config import LayerResolutions, StyleLayout
from hairedit.networks.stylegan2 import Generator, ModulatedConv2d, small_generator
from hairedit.networks.stylegan2_reference import reference_formulation, upfirdn2d
from tests.tolerances import assert_within_rounding, rounding_tolerance


@pytest.fixture(scope="module")
def generator():
    return small_generator(seed=1, size_px=64)


def _conv_reduction(g: Generator) -> int:
    """The longest sum in a synthesis layer: inputs times taps of the widest convolution."""
    return max(m.in_channel * m.kernel_size**2 for m in g.modules() if isinstance(m, ModulatedConv2d))


def _layers(g: Generator) -> int:
    """A bound on the layers on the way to the image: conv1, two convolutions and a to_rgb per
    block (14 at 64 px) and no more than two per style row."""
    return 2 * g.n_latent


def _latent(g, seed=0):
    torch.manual_seed(seed)
    return g.mean_latent(64).unsqueeze(1).repeat(1, g.n_latent, 1) + 0.3 * torch.randn(1, g.n_latent, g.style_dim)


@pytest.mark.parametrize("stop_px", [8, 16, 32])
def test_rendering_from_features_continues_the_full_synthesis(generator, stop_px):
    latent = _latent(generator)
    full = generator.synthesis(latent)
    partial = generator.synthesis(latent, stop_px=stop_px)
    assert partial.features.shape[-1] == stop_px and partial.image.shape[-1] == stop_px
    resumed = generator.synthesis(latent, start_features=partial.features, start_image=partial.image)
    # The same operations on the same numbers, split in two: the same bits.
    assert torch.equal(resumed.image, full.image)


def test_rendering_from_features_restarts_the_rgb_path_like_hairclipv2(generator):
    latent = _latent(generator)
    features = generator.synthesis(latent, stop_px=8).features
    restarted = generator.synthesis(latent, start_features=features).image
    # Only the blocks after F contribute: zeroing the rows before F changes nothing.
    earlier = latent.clone()
    earlier[:, : generator.layout.conv_rows(16).start] = 0
    assert torch.equal(generator.synthesis(earlier, start_features=features).image, restarted)


def test_fixed_noise_is_deterministic_and_fresh_noise_follows_its_generator(generator):
    latent = _latent(generator)
    assert torch.equal(generator(latent), generator(latent))

    def fresh(seed):
        return generator(latent, noise=torch.Generator().manual_seed(seed))

    state = torch.get_rng_state()
    assert torch.equal(fresh(1), fresh(1))
    assert not torch.equal(fresh(1), fresh(2))
    assert not torch.equal(fresh(1), generator(latent))
    assert torch.equal(torch.get_rng_state(), state)  # the global random stream is left alone


def _image_and_gradients(g: Generator, latent: torch.Tensor, reference: bool, from_features: bool = False):
    """The image and the gradients of its mean square to the latent (and to F, from F)."""
    latent = latent.clone().requires_grad_(True)
    with contextlib.ExitStack() as stack:
        if reference:
            stack.enter_context(reference_formulation(g))
        if not from_features:
            image = g(latent)
            return (image, *torch.autograd.grad(image.square().mean(), latent))
        # FS optimises F and the rows after it, two samples at a time in the blending stages.
        features = g.synthesis(latent.detach(), stop_px=16).features.requires_grad_(True)
        image = g.synthesis(latent, start_features=features).image
        return (image, *torch.autograd.grad(image.square().mean(), (latent, features)))


@pytest.mark.parametrize("from_features", [False, True], ids=["full", "from_features_batch"])
def test_fast_ops_equal_the_reference_formulation(generator, from_features):
    latent = torch.cat([_latent(generator, 0), _latent(generator, 1)]) if from_features else _latent(generator)
    generator64 = copy.deepcopy(generator).double()
    exact = _image_and_gradients(generator64, latent.double(), reference=True, from_features=from_features)
    fast64 = _image_and_gradients(generator64, latent.double(), reference=False, from_features=from_features)
    fast32 = _image_and_gradients(generator, latent, reference=False, from_features=from_features)
    image_px = exact[0].shape[-1]
    # The image sums convolution inputs; each gradient also sums over the whole image.
    reductions = [_conv_reduction(generator)] + [_conv_reduction(generator) * image_px**2] * (len(exact) - 1)
    for ours64, ours32, truth, reduction in zip(fast64, fast32, exact, reductions):
        # The same maths: in float64 the two formulations differ only by float64 rounding.
        assert_within_rounding(ours64, truth, torch.float64, reduction, _layers(generator))
        # In float32 the fast ops are as exact as float32 allows.
        assert_within_rounding(ours32, truth, torch.float32, reduction, _layers(generator))


def test_fast_ops_equal_the_reference_at_1024_px():
    torch.manual_seed(0)
    generator = Generator(1024).eval()
    latent = generator.mean_latent(16).unsqueeze(1).repeat(1, 18, 1)
    with torch.no_grad():
        fast = generator(latent)
        with reference_formulation(generator):
            reference = generator(latent)
    assert fast.shape == (1, 3, 1024, 1024)
    # Both in float32: each within the rounding tolerance of the exact image, so within twice it of each other.
    tolerance = 2 * rounding_tolerance(torch.float32, reference.abs().max().item(), _conv_reduction(generator), _layers(generator))
    torch.testing.assert_close(fast, reference, rtol=0, atol=tolerance)


def test_upfirdn2d_known_values():
    # Zero-insertion upsampling of a single pixel with a box kernel spreads it over 2x2.
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    out = upfirdn2d(x, torch.ones(2, 2), up=2, pad=(1, 0))
    assert out.shape == (1, 1, 6, 6)
    assert out.sum() == 4 and out[0, 0, 2:4, 2:4].eq(1).all()


@pytest.mark.parametrize("up, down, pad", [(1, 1, (3, 3)), (2, 1, (2, 1)), (2, 1, (3, 3)), (1, 2, (-1, 2)), (2, 2, (0, -2))])
def test_upfirdn2d_is_zero_insertion_padding_and_true_convolution(up, down, pad):
    # Against scipy's 2-D convolution, with a kernel that is not symmetric, so that a filter
    # used the wrong way round (correlation) fails.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64, generator=generator)
    kernel = torch.randn(4, 4, dtype=torch.float64, generator=generator)
    before, after = pad
    inserted = np.zeros((2, 3, 7 * up, 5 * up))
    inserted[:, :, ::up, ::up] = x.numpy()
    padded = np.pad(inserted, ((0, 0), (0, 0), (max(before, 0), max(after, 0)), (max(before, 0), max(after, 0))))
    padded = padded[:, :, max(-before, 0) : padded.shape[2] - max(-after, 0), max(-before, 0) : padded.shape[3] - max(-after, 0)]
    expected = np.array([[scipy.signal.convolve2d(channel, kernel.numpy(), mode="valid") for channel in image] for image in padded])
    expected = torch.from_numpy(expected[:, :, ::down, ::down])
    assert_within_rounding(upfirdn2d(x, kernel, up, down, pad), expected, torch.float64, reduction=16, layers=1)


def test_autocast_runs(generator):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        image = generator(_latent(generator))
    assert torch.isfinite(image.float()).all()


def test_layer_rows_match_the_paper_at_1024_and_exist_at_64():
    rows = LayerResolutions().rows(1024)
    assert (rows.coarse, rows.bald, rows.reference) == (range(0, 7), range(0, 8), range(0, 6))
    assert (rows.fs_free, rows.color, rows.color_final) == (range(7, 18), range(9, 13), range(11, 18))
    small = LayerResolutions().rows(64)
    n_latent = StyleLayout(64).n_latent
    for name in ("coarse", "bald", "reference", "fs_free", "color", "color_final"):
        value = getattr(small, name)
        assert 0 <= value.start < value.stop <= n_latent, name
    # The colour rows must act after F, or stage 1 would optimise nothing.
    assert small.color.start >= StyleLayout(64).conv_rows(small.features_px).stop
