"""LaMa (big-lama): the official Lightning checkpoint loads strictly (generator only, picked
by name), a broken one is named, and the generator gives the official code's numbers
(tests/golden/lama.npz, made by tools/golden/lama.py as docs/golden.md says)."""

from pathlib import Path

import copy

import numpy as np
import pytest
import torch

from hairedit.checkpoints import load_strict, read_checkpoint
from hairedit.errors import CheckpointError
from hairedit.networks import lama
from tests.official.lama import generator_shapes, write_lama
from tests.tolerances import rounding_tolerance

GOLDEN = Path(__file__).parent / "golden" / "lama.npz"


def test_every_key_and_shape_matches_big_lama():
    with torch.device("meta"):
        ours = lama.LamaGenerator()
    assert {key: tuple(value.shape) for key, value in ours.state_dict().items()} == generator_shapes()
    assert sum(value.numel() for value in ours.state_dict().values()) > 51_000_000  # big-lama's 51M


def test_official_checkpoint_loads_the_generator_only(tmp_path):
    path = tmp_path / "best.ckpt"
    written = write_lama(path, values="compact")
    generator = lama.load_lama(path)
    loaded = generator.state_dict()
    assert set(loaded) == set(written)
    assert all(torch.equal(loaded[key], written[key]) for key in written)
    assert not generator.training


def test_a_checkpoint_missing_a_generator_tensor_is_named(tmp_path):
    path = tmp_path / "best.ckpt"
    write_lama(path, values="compact", left_out=("model.5.conv1.ffc.convg2g.fu.conv_layer.weight",))
    with pytest.raises(CheckpointError, match=r"missing keys model\.5\.conv1\.ffc\.convg2g\.fu\.conv_layer"):
        lama.load_lama(path)


def test_a_file_without_a_state_dict_is_named(tmp_path):
    torch.save({"generator": {}}, tmp_path / "best.ckpt")
    with pytest.raises(CheckpointError, match="no 'state_dict' entry"):
        lama.load_lama(tmp_path / "best.ckpt")


def test_inpainting_changes_only_the_hole_and_any_size_works():
    generator = lama.small_lama(seed=3)
    image = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    hole = torch.zeros(1, 1, 37, 50)
    hole[..., 10:25, 12:30] = 1
    filled = lama.lama_inpaint(generator, image, hole)
    assert filled.shape == image.shape
    assert torch.equal(filled[hole.expand_as(image) == 0], image[hole.expand_as(image) == 0])
    assert (filled - image)[hole.expand_as(image) > 0].abs().max() > 0.01
    again = lama.lama_inpaint(lama.small_lama(seed=3), image, hole)
    assert torch.equal(filled, again)


@pytest.fixture(scope="module")
def golden_generator(tmp_path_factory):
    """The golden run's generator, read from a checkpoint in the official layout."""
    golden = np.load(GOLDEN)
    path = tmp_path_factory.mktemp("lama") / "best.ckpt"
    write_lama(path, seed=int(golden["seed"]), values="scaled", training_parts=False,
               ngf=int(golden["ngf"]), n_blocks=int(golden["n_blocks"]))
    generator = lama.LamaGenerator(lama.LamaArchitecture(base_channels=int(golden["ngf"]), blocks=int(golden["n_blocks"])))
    load_strict(generator, lama.generator_state(read_checkpoint(path), path), path)
    return generator.eval(), golden


def test_generator_gives_the_official_numbers_in_float64(golden_generator):
    generator, golden = golden_generator
    generator = copy.deepcopy(generator).double()
    with torch.no_grad():
        raw = generator(torch.from_numpy(golden["generator_input"]))
        inpainted = lama.lama_inpaint(generator, torch.from_numpy(golden["image"]), torch.from_numpy(golden["mask"]))
    # The same maths in the same format: float64 rounding of values in [0, 1].
    np.testing.assert_allclose(raw.numpy(), golden["predicted"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(inpainted.numpy(), golden["inpainted"], rtol=0, atol=1e-12)


def test_generator_gives_the_official_numbers_in_float32(golden_generator):
    generator, golden = golden_generator
    image, hole = (torch.from_numpy(golden[key]).float() for key in ("image", "mask"))
    with torch.no_grad():
        inpainted = lama.lama_inpaint(generator, image, hole)
    # Float32 against the float64 run (tests/tolerances.py): sums of up to 9 * 64 products (the
    # widest fan-in, the first transposed convolution), 12 convolutions and 2 * 4 Fourier
    # transforms (each as accurate as a sum) in sequence, pre-sigmoid values of order 1 (the
    # sigmoid's slope is at most 1/4, so 1 bounds the outputs' error too): 5.1e-5. Measured 7e-8.
    tolerance = rounding_tolerance(torch.float32, magnitude=1.0, reduction=9 * 64, layers=12 + 8)
    np.testing.assert_allclose(inpainted.numpy(), golden["inpainted"], rtol=0, atol=tolerance)
