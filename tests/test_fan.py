"""FAN landmark heatmaps: both official file formats load strictly (the TorchScript one
without running it), HairCLIPv2's preprocessing, gradients to the image."""

import os
import pickle
import zipfile

import pytest
import torch
import torch.nn.functional as F

from hairedit.errors import CheckpointError, MissingWeightsError
from hairedit.networks import fan
from tests.official.fan import write_fan, write_fan_torchscript


@pytest.fixture(scope="module")
def small():
    return fan.small_fan(seed=0)


def _image(size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _assert_holds(landmarks: fan.LandmarkHeatmaps, state: dict) -> None:
    loaded = landmarks.fan.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_face_alignment_15_state_dict_loads_strictly(tmp_path):
    state = write_fan(tmp_path / "3DFAN4-7835d9f11d.pth.tar")
    _assert_holds(fan.load_fan(tmp_path / "3DFAN4-7835d9f11d.pth.tar"), state)


def test_torchscript_archive_loads_strictly_without_running_it(tmp_path):
    state = write_fan_torchscript(tmp_path / "3DFAN4-4a694010b9.zip")
    assert fan.is_torchscript_archive(tmp_path / "3DFAN4-4a694010b9.zip")
    _assert_holds(fan.load_fan(tmp_path / "3DFAN4-4a694010b9.zip"), state)


class _Trap:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_archive_asking_for_other_code_is_refused(tmp_path):
    marker = tmp_path / "trap_ran"
    with zipfile.ZipFile(tmp_path / "fan.zip", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"conv1": _Trap(marker)}, protocol=2))
        archive.writestr("archive/constants.pkl", pickle.dumps((), protocol=2))
    with pytest.raises(CheckpointError, match="refusing the global"):
        fan.load_fan(tmp_path / "fan.zip")
    assert not marker.exists()


def test_misshaped_and_missing_keys_are_named(tmp_path):
    state = write_fan(tmp_path / "fan.pth.tar")
    state["l3.weight"] = torch.zeros(98, 256, 1, 1)
    del state["m0.b2_plus_1.bn1.running_var"]
    torch.save(state, tmp_path / "fan.pth.tar")
    with pytest.raises(CheckpointError) as raised:
        fan.load_fan(tmp_path / "fan.pth.tar")
    assert "missing keys m0.b2_plus_1.bn1.running_var" in str(raised.value)
    assert "l3.weight (98, 256, 1, 1) (expected (68, 256, 1, 1))" in str(raised.value)


def test_missing_and_corrupt_files_say_what_to_do(tmp_path):
    with pytest.raises(MissingWeightsError, match="hairedit weights download"):
        fan.load_fan(tmp_path / "absent.pth.tar")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError):
        fan.load_fan(tmp_path / "broken.zip")


def test_heatmaps_are_the_last_stack_at_64_px(small):
    image = _image(128, batch=2)
    heatmaps = small(image)
    assert heatmaps.shape == (2, fan.N_LANDMARKS, 64, 64)
    x = ((F.interpolate(image, size=(256, 256), mode="nearest") + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(heatmaps, small.fan(x)[-1])
    assert not torch.allclose(heatmaps, small.fan(x)[0])


def test_input_is_resized_by_nearest_and_clamped(small):
    image = _image(256)
    doubled = image.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # nearest x2 of the same picture
    torch.testing.assert_close(small(doubled), small(image))
    torch.testing.assert_close(small(3 * image), small((3 * image).clamp(-1, 1)))


def test_gradient_reaches_the_image(small):
    image = _image(256).requires_grad_()
    small(image)[:, fan.JAW].pow(2).mean().backward()
    assert image.grad.abs().sum() > 0


def test_saturated_pixels_pass_the_gradient_on_every_torch(small):
    # torch 2.14 made clamp's gradient 0 at its bounds; the official code ran where it was 1.
    image = torch.zeros(1, 3, 256, 256)
    image[..., :128, :] = 1.0  # white: exactly the upper bound
    image[..., 128:, :] = -1.0  # black: exactly the lower bound
    image[..., :, :8] = 3.0  # past the bounds: no gradient
    image.requires_grad_()
    small(image).pow(2).mean().backward()
    assert (image.grad[..., :, 8:] != 0).float().mean() > 0.5
    assert torch.all(image.grad[..., :, :8] == 0)


def test_jaw_and_nose_are_the_official_points():
    points = torch.arange(fan.N_LANDMARKS)
    assert points[fan.JAW].tolist() == list(range(0, 17))
    assert points[fan.NOSE].tolist() == list(range(27, 36))


def test_small_fan_is_seeded():
    image = _image(64)
    torch.testing.assert_close(fan.small_fan(seed=1)(image), fan.small_fan(seed=1)(image))
    assert not torch.allclose(fan.small_fan(seed=1)(image), fan.small_fan(seed=2)(image))
