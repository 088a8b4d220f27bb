"""LPIPS, the Gram style loss, FAN and CLIP's augmentations equal the official code's numbers.

tests/golden/*.npz hold what the official code computed in float64 on weights the writers in
tests/official write (official layouts, ``scaled=True`` random values, seed 0) and on the
inputs of tests/golden_inputs.py; docs/golden.md says exactly how. Each value is checked twice:
hairedit in float64 must agree to float64 rounding (the same maths: any change of a formula
shows), and in float32, as it runs, to float32 rounding (tests/tolerances.py).
"""

from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F

from hairedit.losses import landmark_loss
from hairedit.networks import clip_augment, fan, vgg
from tests.golden_inputs import astronaut_image, hair_mask, kornia_views
from tests.official.fan import write_fan
from tests.official.vgg import write_lpips_lin, write_vgg16
from tests.tolerances import assert_within_rounding, resampling_tolerance

GOLDEN = Path(__file__).parent / "golden"
VGG_REDUCTION, VGG_LAYERS = 512 * 9, 13  # the widest convolution's inputs x taps; convolutions in VGG16
# FAN: 256 channels x 3 x 3 taps; the longest chain of convolutions: the stem (conv1 and three
# blocks of three) and per stack the hourglass's way down and up (9 blocks of 3 convolutions),
# top_m (3), conv_last and the heatmap layer: 10 + 4 x 32.
FAN_REDUCTION, FAN_LAYERS = 256 * 9, 10 + 4 * 32


def golden(name: str) -> dict:
    with np.load(GOLDEN / name, allow_pickle=False) as data:
        return {key: torch.from_numpy(data[key]) for key in data.files}


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden_vgg")
    write_vgg16(folder / "vgg16-397923af.pth", scaled=True)
    write_lpips_lin(folder / "vgg.pth")
    return folder / "vgg16-397923af.pth", folder / "vgg.pth"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lpips_equals_the_lpips_package(vgg_files, dtype):
    expected = golden("lpips.npz")
    # The lpips package and HairCLIPv2's own copy of LPIPS gave the same distances.
    assert_within_rounding(expected["distance_hairclipv2_copy"], expected["distance"], torch.float64, VGG_REDUCTION, VGG_LAYERS)
    lpips = vgg.load_lpips(*vgg_files).to(dtype)
    x = torch.cat([astronaut_image(64, "face"), astronaut_image(64, "suit")]).to(dtype)
    y = torch.cat([astronaut_image(64, "suit"), astronaut_image(64, "face_shifted")]).to(dtype)
    with torch.no_grad():
        assert_within_rounding(lpips(x, y), expected["distance"], dtype, VGG_REDUCTION, VGG_LAYERS)
    image = astronaut_image(48, "face").to(dtype).requires_grad_(True)
    lpips(image, astronaut_image(48, "suit").to(dtype)).sum().backward()
    # A gradient also sums over the image.
    assert_within_rounding(image.grad, expected["grad_48px"], dtype, VGG_REDUCTION * 48 * 48, VGG_LAYERS)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_style_loss_equals_hairclipv2s(vgg_files, dtype, monkeypatch):
    expected = golden("style_loss.npz")
    style = vgg.MaskedStyleLoss(vgg.load_vgg16(vgg_files[0]).to(dtype))

    def loss_of(size: int, image: torch.Tensor) -> torch.Tensor:
        return style(astronaut_image(size, "face").to(dtype), image, hair_mask(size, 0).to(dtype), hair_mask(size, 1).to(dtype))

    # Every input is resized to 256 px; a Gram entry sums a whole activation map, 256 x 256 px at relu1_2.
    with torch.no_grad():
        loss = loss_of(48, astronaut_image(48, "suit").to(dtype))
    assert_within_rounding(loss, expected["loss_48px"], dtype, VGG_REDUCTION * 256 * 256, VGG_LAYERS)
    # The gradient in the official code's memory layout. In flat, masked-out regions the maxima
    # max pooling picks are ties broken by the last bits of the convolutions before it, whose
    # rounding depends on the layout (as it does on the device in the official code): in
    # hairedit's channels-last layout another, equally valid subgradient results (0.35% of
    # these pixels, up to 1e-4 of the largest gradient). Pooling alone in the official layout
    # does not change that; the values it pools already differ in their last bits.
    monkeypatch.setattr(vgg, "preferred_memory_format", lambda device: torch.contiguous_format)
    image = astronaut_image(48, "suit").to(dtype).requires_grad_(True)
    loss_of(48, image).backward()
    assert_within_rounding(image.grad, expected["grad_48px"], dtype, VGG_REDUCTION * 256 * 256, VGG_LAYERS)


@pytest.fixture(scope="module")
def fan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden_fan") / "3DFAN4-7835d9f11d.pth.tar"
    write_fan(path, scaled=True)
    return path


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fan_heatmaps_and_landmark_losses_equal_face_alignment_15s(fan_file, dtype):
    expected = golden("fan.npz")
    landmarks = fan.load_fan(fan_file).to(dtype)
    source = astronaut_image(256, "face").to(dtype)
    # The gradient in float32 only (as hairedit runs): float64 backward through FAN is slow.
    generated = astronaut_image(256, "face_shifted").to(dtype).requires_grad_(dtype == torch.float32)
    with torch.no_grad():
        source_heatmaps = landmarks(source)
    check = dict(dtype=dtype, reduction=FAN_REDUCTION, layers=FAN_LAYERS)
    assert_within_rounding(source_heatmaps[0, expected["channels"]], expected["heatmaps_channels"], **check)
    assert_within_rounding(F.avg_pool2d(source_heatmaps, 8)[0], expected["heatmaps_pooled"], **check)
    generated_heatmaps = landmarks(generated)
    # The losses sum 64 x 64 squared differences per landmark.
    text_loss = landmark_loss(source_heatmaps, generated_heatmaps, jaw_and_nose_only=True)
    assert_within_rounding(text_loss, expected["text_loss"], dtype, FAN_REDUCTION * 64 * 64, FAN_LAYERS)
    reference_loss = landmark_loss(source_heatmaps, generated_heatmaps, jaw_and_nose_only=False)
    assert_within_rounding(reference_loss, expected["reference_loss"], dtype, FAN_REDUCTION * 64 * 64, FAN_LAYERS)
    if generated.requires_grad:
        text_loss.backward()
        pooled = F.avg_pool2d(generated.grad, 8) * 64
        assert_within_rounding(pooled, expected["text_loss_grad_pooled"], dtype, FAN_REDUCTION * 256 * 256, FAN_LAYERS)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_augmentations_warp_as_kornia_067_does(dtype):
    expected = golden("augmentations.npz")
    picture = expected["picture"].to(dtype)
    warped = kornia_views(picture.repeat(6, 1, 1, 1), expected)
    # kornia builds its sampling grid in float32 even for float64 images (create_meshgrid).
    torch.testing.assert_close(warped.double(), expected["warped"], rtol=0, atol=resampling_tolerance(picture))


def test_augmentation_parameters_follow_kornia_067s_distributions():
    # kornia's 1000 draws (RandomAffine(15, translate=0.1), RandomPerspective(0.7), p=0.7 each)
    # against hairedit's 1000: the same distributions by two-sample Kolmogorov-Smirnov tests.
    # Both samples are fixed by their seeds, so this either always passes or always fails; at
    # the 1e-3 level it fails for a wrong range (a horizontal shift, 30 degrees) every time.
    expected = golden("augmentations.npz")
    n, size = 1000, 224
    generator = torch.Generator().manual_seed(0)
    matrices = clip_augment.random_affine_matrices(n, size, size, generator)
    angle = torch.rad2deg(torch.atan2(matrices[:, 1, 0], matrices[:, 0, 0]))
    centre = torch.full((2,), (size - 1) / 2, dtype=torch.float64)
    shift = matrices[:, :2, 2] - (centre - matrices[:, :2, :2] @ centre)
    corners = torch.tensor([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], dtype=torch.float64)
    homographies = clip_augment.random_perspective_matrices(n, size, size, generator)
    moved = torch.cat([corners, torch.ones(4, 1, dtype=torch.float64)], 1) @ homographies.transpose(1, 2)
    offsets = moved[..., :2] / moved[..., 2:] - corners
    assert torch.all(expected["draws_translations"][:, 0] == 0) and torch.all(shift[:, 0].abs() < 1e-9)
    pairs = [(angle, expected["draws_angle"]), (shift[:, 1], expected["draws_translations"][:, 1])]
    pairs += [(offsets[:, corner, axis], expected["draws_perspective_offsets"][:, corner, axis]) for corner in range(4) for axis in range(2)]
    for ours, kornias in pairs:
        assert scipy.stats.ks_2samp(ours.numpy(), kornias.double().numpy()).pvalue > 1e-3
    # Each warp is applied with probability 0.7: kornia's and hairedit's coin flips agree
    # within 4 standard deviations of a binomial count.
    flips = clip_augment._coin_flips(n, clip_augment.AUGMENT_PROBABILITY, generator)
    for kornias in (expected["draws_affine_applied"], expected["draws_perspective_applied"]):
        assert abs(int(kornias.sum()) - int(flips.sum())) < 4 * np.sqrt(2 * n * 0.7 * 0.3)
