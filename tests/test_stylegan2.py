import pytest
import torch

from hairedit.config import LayerResolutions, StyleLayout
from hairedit.networks.stylegan2 import Generator, small_generator
from hairedit.networks.stylegan2_reference import reference_formulation, upfirdn2d


@pytest.fixture(scope="module")
def generator():
    return small_generator(seed=1, size_px=64)


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
    torch.testing.assert_close(resumed.image, full.image, rtol=0, atol=1e-5)


def test_rendering_from_features_restarts_the_rgb_path_like_hairclipv2(generator):
    latent = _latent(generator)
    features = generator.synthesis(latent, stop_px=8).features
    restarted = generator.synthesis(latent, start_features=features).image
    # Only the blocks after F contribute: zeroing the rows before F changes nothing.
    earlier = latent.clone()
    earlier[:, : generator.layout.conv_rows(16).start] = 0
    torch.testing.assert_close(generator.synthesis(earlier, start_features=features).image, restarted)


def test_fixed_noise_is_deterministic_and_fresh_noise_follows_its_generator(generator):
    latent = _latent(generator)
    torch.testing.assert_close(generator(latent), generator(latent))

    def fresh(seed):
        return generator(latent, noise=torch.Generator().manual_seed(seed))

    state = torch.get_rng_state()
    assert torch.equal(fresh(1), fresh(1))
    assert not torch.equal(fresh(1), fresh(2))
    assert not torch.equal(fresh(1), generator(latent))
    assert torch.equal(torch.get_rng_state(), state)  # the global random stream is left alone


def test_fast_ops_equal_the_reference_formulation(generator):
    latent = _latent(generator).requires_grad_(True)
    fast = generator(latent)
    (grad_fast,) = torch.autograd.grad(fast.square().mean(), latent)
    with reference_formulation(generator):
        reference = generator(latent)
        (grad_reference,) = torch.autograd.grad(reference.square().mean(), latent)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_fast, grad_reference, rtol=1e-4, atol=1e-6)


def test_fast_ops_equal_the_reference_from_features_for_a_batch(generator):
    # FS optimises F and the rows after it, two samples at a time in the blending stages.
    latent = torch.cat([_latent(generator, 0), _latent(generator, 1)]).requires_grad_(True)
    features = generator.synthesis(latent.detach(), stop_px=16).features.requires_grad_(True)

    def render_and_grads():
        image = generator.synthesis(latent, start_features=features).image
        return (image, *torch.autograd.grad(image.square().mean(), (latent, features)))

    fast = render_and_grads()
    with reference_formulation(generator):
        reference = render_and_grads()
    for ours, theirs in zip(fast, reference):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_fast_ops_equal_the_reference_at_1024_px():
    torch.manual_seed(0)
    generator = Generator(1024).eval()
    latent = generator.mean_latent(16).unsqueeze(1).repeat(1, 18, 1)
    with torch.no_grad():
        fast = generator(latent)
        with reference_formulation(generator):
            reference = generator(latent)
    assert fast.shape == (1, 3, 1024, 1024)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)


def test_upfirdn2d_known_values():
    # Zero-insertion upsampling of a single pixel with a box kernel spreads it over 2x2.
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    out = upfirdn2d(x, torch.ones(2, 2), up=2, pad=(1, 0))
    assert out.shape == (1, 1, 6, 6)
    assert out.sum() == 4 and out[0, 0, 2:4, 2:4].eq(1).all()


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
