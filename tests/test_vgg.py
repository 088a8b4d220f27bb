"""VGG16 / LPIPS / Gram style loss: strict loading of torchvision's and LPIPS's files, LPIPS
as a distance, the official Gram normalisation and masking, gradients to the image."""

import pytest
import torch

from hairedit.errors import CheckpointError
from hairedit.networks import vgg
from tests.official.vgg import write_lpips_lin, write_vgg16


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vgg")
    features = write_vgg16(folder / "vgg16-397923af.pth")
    linear = write_lpips_lin(folder / "vgg.pth")
    return folder / "vgg16-397923af.pth", folder / "vgg.pth", features, linear


@pytest.fixture(scope="module")
def small_net():
    return vgg.small_vgg16(seed=0)


def _image(size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_torchvision_file_loads_strictly_without_its_classifier(official_files):
    vgg_path, _, state, _ = official_files
    net = vgg.load_vgg16(vgg_path)
    loaded = net.state_dict()
    assert set(loaded) == {key for key in state if key.startswith("features.")}
    for key, value in loaded.items():
        assert torch.equal(value, state[key]), key
    assert not any(parameter.requires_grad for parameter in net.parameters())


def test_lpips_file_loads_strictly(official_files):
    vgg_path, lin_path, _, linear = official_files
    lpips = vgg.load_lpips(vgg_path, lin_path)
    for key, value in lpips.linear.state_dict().items():
        assert torch.equal(value, linear[key]), key


def test_misshaped_and_missing_vgg_keys_are_named(tmp_path, official_files):
    _, _, state, _ = official_files
    broken = dict(state)
    broken["features.28.weight"] = torch.zeros(512, 256, 3, 3)
    del broken["features.0.bias"]
    torch.save(broken, tmp_path / "vgg.pth")
    with pytest.raises(CheckpointError) as raised:
        vgg.load_vgg16(tmp_path / "vgg.pth")
    assert "missing keys features.0.bias" in str(raised.value)
    assert "features.28.weight (512, 256, 3, 3) (expected (512, 512, 3, 3))" in str(raised.value)


def test_lpips_file_of_another_network_is_refused(tmp_path, small_net):
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, tmp_path / "alex.pth")
    with pytest.raises(CheckpointError, match="missing keys lin1.model.1.weight"):
        vgg.lpips_with(vgg.VGG16Features(), tmp_path / "alex.pth")


def test_lpips_is_zero_for_equal_images_and_positive_otherwise():
    lpips = vgg.small_lpips(seed=0)
    a, b = _image(64, batch=2, seed=1), _image(64, batch=2, seed=2)
    assert torch.equal(lpips(a, a), torch.zeros(2))
    distance = lpips(a, b)
    assert distance.shape == (2,) and (distance > 0).all()
    torch.testing.assert_close(lpips(b, a), distance)
    torch.testing.assert_close(lpips(a[1:], b[1:]), distance[1:])  # each image on its own


def test_lpips_grows_with_the_difference():
    lpips = vgg.small_lpips(seed=0)
    a, noise = _image(64), _image(64, seed=3)
    assert lpips(a, a + 0.05 * noise) < lpips(a, a + 0.5 * noise)


def test_lpips_gradient_reaches_the_image():
    lpips = vgg.small_lpips(seed=0)
    image = _image(64, seed=1).requires_grad_()
    lpips(image, _image(64, seed=2)).sum().backward()
    assert image.grad.abs().sum() > 0


def test_lpips_refuses_mismatched_images():
    with pytest.raises(ValueError, match="one shape"):
        vgg.small_lpips()(_image(64), _image(32))


def test_gram_matrix_known_values():
    ones = torch.ones(1, 4, 5, 6)
    torch.testing.assert_close(vgg.gram_matrix(ones), torch.full((4, 4), 1 / 4))
    two_channels = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    torch.testing.assert_close(vgg.gram_matrix(two_channels), torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4)


def test_style_loss_sees_only_the_masked_hair(small_net):
    style = vgg.MaskedStyleLoss(small_net)
    target, mask = _image(256, seed=1), torch.zeros(1, 1, 256, 256)
    mask[..., 64:192, 64:192] = 1
    elsewhere_changed = torch.where(mask.bool(), target, _image(256, seed=2))
    assert style(target, elsewhere_changed, mask, mask).item() == 0
    assert style(target, _image(256, seed=3), mask, mask).item() > 0
    assert style(target, _image(256, seed=3), mask * 0, mask * 0).item() == 0


def test_style_loss_takes_other_sizes_and_sends_gradients_to_the_image_only(small_net):
    style = vgg.MaskedStyleLoss(small_net)
    for size in (128, 512):
        target = _image(size, seed=1).requires_grad_()
        image = _image(size, seed=2).requires_grad_()
        masks = torch.ones(1, 1, size, size)
        loss = style(target, image, masks, masks)
        loss.backward()
        assert loss.dim() == 0 and loss > 0
        assert target.grad is None and image.grad.abs().sum() > 0
