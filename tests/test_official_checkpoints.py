"""Every official file, written in its exact layout with random values, loads strictly into
our network; a broken or booby-trapped file is refused with the reason named."""

from pathlib import Path

import pytest
import torch

from hairedit.checkpoints import read_checkpoint
from hairedit.errors import CheckpointError, MissingWeightsError
from hairedit.networks import bald_mapper, bisenet, clip, e4e_encoder, fan, hairclip_mapper, sketch_encoder, stylegan2, vgg
from tests.conftest import Booby
from tests.official.bald_proxy import write_bald_proxy
from tests.official.clip import clip_shapes
from tests.official.ffhq import generator_shapes, write_ffhq
from tests.official.seg import bisenet_shapes
from tests.official.sketch_proxy import write_sketch_proxy

def _shapes(module: torch.nn.Module) -> dict:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


@pytest.mark.parametrize(
    "ours, official",
    [
        (lambda: stylegan2.Generator(1024), lambda: generator_shapes(1024)),
        (lambda: stylegan2.Generator(256, channel_multiplier=1), lambda: generator_shapes(256, channel_multiplier=1)),
        (lambda: bisenet.BiSeNet(), lambda: bisenet_shapes(auxiliary_heads=False)),
        (lambda: fan.FAN(), lambda: __import__("tests.official.fan", fromlist=["x"]).fan_shapes()),
        (lambda: vgg.VGG16Features(), lambda: {k: v for k, v in __import__("tests.official.vgg", fromlist=["x"]).vgg16_shapes().items() if k.startswith("features")}),
        (lambda: sketch_encoder.SketchEncoder(), lambda: __import__("tests.official.sketch_proxy", fromlist=["x"]).first_stage_shapes()),
        (lambda: bald_mapper.BaldMapper(), lambda: __import__("tests.official.bald_proxy", fromlist=["x"]).level_mapper_shapes()),
        (lambda: clip.build_clip_model(clip.VIT_B_32), lambda: clip_shapes(position_ids=False)),
    ],
    ids=["generator-1024", "generator-256", "bisenet", "fan", "vgg16", "sketch-encoder", "bald-mapper", "clip-vit-b32"],
)
def test_every_key_and_shape_matches_the_official_network(ours, official):
    assert _shapes(ours()) == official()


def test_every_official_file_loads_strictly(official_dir):
    generator, latent_avg = stylegan2.load_generator(official_dir / "ffhq.pt")
    assert generator.size == 1024 and generator.n_latent == 18 and latent_avg.shape == (1, 512)
    assert bisenet.load_parser(official_dir / "seg.pth").input_size_px == 512
    assert bald_mapper.load_bald_mapper(official_dir / "bald_proxy.pt").alpha == pytest.approx(0.85)
    assert sketch_encoder.load_sketch_encoder(official_dir / "sketch_proxy.pt").rows == (9, 5, 4)
    assert e4e_encoder.load_e4e_encoder(official_dir / "e4e_ffhq_encode.pt").n_styles == 18
    assert hairclip_mapper.load_hairclip_mapper(official_dir / "hairclip.pt").mapper.n_latent == 18
    assert isinstance(vgg.load_lpips(official_dir / "vgg16-397923af.pth", official_dir / "lpips_vgg_v0.1.pth"), vgg.LPIPS)
    assert isinstance(fan.load_fan(official_dir / "3DFAN4-7835d9f11d.pth.tar"), fan.LandmarkHeatmaps)
    guide = clip.load_clip(official_dir / "clip_vit_b32.safetensors", official_dir / "clip_vocab.json",
                           official_dir / "clip_merges.txt")
    assert guide.encode_text(["bob cut hairstyle"]).shape == (1, 512)


def test_loaded_generator_gives_the_files_numbers(tmp_path):
    """Same weights in, same numbers out: our module computes with exactly the file's tensors."""
    checkpoint = write_ffhq(tmp_path / "g.pt", size=64, style_dim=64, n_mlp=2)
    generator, _ = stylegan2.load_generator(tmp_path / "g.pt")
    for key, value in generator.state_dict().items():
        assert torch.equal(value, checkpoint["g_ema"][key]), key


def test_sketch_encoder_reads_opts_as_dict_or_namespace(tmp_path):
    write_sketch_proxy(tmp_path / "a.pt", opts_as_namespace=True)
    assert sketch_encoder.load_sketch_encoder(tmp_path / "a.pt").input_layer[0].in_channels == 1


def test_missing_key_is_named(tmp_path):
    checkpoint = write_ffhq(tmp_path / "g.pt", size=64, style_dim=64, n_mlp=2)
    del checkpoint["g_ema"]["convs.3.conv.weight"]
    torch.save(checkpoint, tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match=r"missing keys convs\.3\.conv\.weight"):
        stylegan2.load_generator(tmp_path / "g.pt")


def test_misshaped_key_is_named(tmp_path):
    checkpoint = write_bald_proxy(tmp_path / "b.pt")
    checkpoint["state_dict"]["structure_mapping.fc3.weight"] = torch.zeros(512, 256)
    torch.save(checkpoint, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"structure_mapping\.fc3\.weight \(512, 256\) \(expected \(512, 512\)\)"):
        bald_mapper.load_bald_mapper(tmp_path / "b.pt")


def test_unexpected_key_is_named(tmp_path):
    checkpoint = write_bald_proxy(tmp_path / "b.pt")
    checkpoint["state_dict"]["structure_mapping.fc8.weight"] = torch.zeros(512, 512)
    torch.save(checkpoint, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"unexpected keys structure_mapping\.fc8\.weight"):
        bald_mapper.load_bald_mapper(tmp_path / "b.pt")


def test_booby_trapped_file_is_refused_without_running_its_code(tmp_path):
    marker = Path("/tmp/hairedit_booby_trap_ran")
    marker.unlink(missing_ok=True)
    checkpoint = write_bald_proxy(tmp_path / "b.pt")
    checkpoint["payload"] = Booby()
    torch.save(checkpoint, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="refused"):
        bald_mapper.load_bald_mapper(tmp_path / "b.pt")
    assert not marker.exists()


def test_corrupt_and_missing_files_say_what_to_do(tmp_path):
    (tmp_path / "seg.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="download it again"):
        read_checkpoint(tmp_path / "seg.pth")
    with pytest.raises(MissingWeightsError, match="hairedit weights download"):
        read_checkpoint(tmp_path / "absent.pt")


def test_parser_gives_16_classes_at_both_sizes(official_dir):
    parser = bisenet.load_parser(official_dir / "seg.pth")
    parse = parser(torch.rand(1, 3, 1024, 1024) * 2 - 1)
    assert parse.logits.shape == (1, 16, 512, 512)
    assert parse.logits_full.shape == (1, 16, 1024, 1024)
