"""What hairedit does without a file it would rather have is logged; a broken file is an error
naming it, never silently replaced by something that changes the result."""

import dataclasses
import logging

import pytest
import torch

from hairedit.cli import main
from hairedit.components import Components
from hairedit.errors import CheckpointError, DownloadError
from hairedit.networks.stylegan2 import small_generator
from hairedit.weights.registry import WEIGHTS, UrlFile
from tests.disk import full_after


def _pca_loader(folder):
    return Components.pretrained(folder, torch.device("cpu"), download=False)._loaders["pca"]


def test_a_broken_pca_file_is_an_error_not_a_recomputation(tmp_path):
    (tmp_path / "ffhq_PCA.npz").write_bytes(b"PK\x03\x04 half a zip file")
    with pytest.raises(CheckpointError, match="ffhq_PCA.npz"):
        _pca_loader(tmp_path)(small_generator())
    assert not (tmp_path / "ffhq_PCA.computed.npz").exists()


def test_a_missing_pca_file_is_computed_and_said_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hairedit"):
        pca = _pca_loader(tmp_path)(small_generator())
    assert pca.components.shape == (64, 64)
    assert "ffhq_PCA.npz cannot be had" in caplog.text and "ffhq_PCA.computed.npz" in caplog.text
    assert (tmp_path / "ffhq_PCA.computed.npz").is_file()


def test_a_truncated_pca_file_is_an_error_naming_it(tmp_path):
    from hairedit.latent_pca import compute_latent_pca, load_latent_pca

    compute_latent_pca(small_generator(), n_samples=256).save(tmp_path / "pca.npz")
    whole = (tmp_path / "pca.npz").read_bytes()
    (tmp_path / "pca.npz").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(CheckpointError, match="pca.npz is not a latent PCA file"):
        load_latent_pca(tmp_path / "pca.npz")


def test_a_damaged_computed_pca_is_computed_again(tmp_path, caplog):
    (tmp_path / "ffhq_PCA.computed.npz").write_bytes(b"PK\x03\x04 cut short as it was written")
    with caplog.at_level(logging.WARNING, logger="hairedit"):
        pca = _pca_loader(tmp_path)(small_generator())
    assert "computing the PCA again" in caplog.text and "ffhq_PCA.computed.npz" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hairedit"):
        again = _pca_loader(tmp_path)(small_generator())
    assert "computing the PCA again" not in caplog.text  # kept whole this time: read, not computed
    assert torch.equal(again.components, pca.components)


def test_the_computed_pca_is_written_whole_or_not_at_all(tmp_path):
    from hairedit.latent_pca import compute_latent_pca, load_latent_pca

    path = tmp_path / "ffhq_PCA.computed.npz"
    first = compute_latent_pca(small_generator(), n_samples=256)
    first.save(path)
    with full_after(4096), pytest.raises(OSError):  # a disk that fills up midway
        compute_latent_pca(small_generator(), n_samples=256, seed=1).save(path)
    assert torch.equal(load_latent_pca(path, style_dim=64).components, first.components)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_hairedit_is_quiet_unless_asked(capsys):
    logging.getLogger("hairedit.components").warning("something fell back")
    assert capsys.readouterr().err == ""  # a library prints nothing by itself


def test_debug_shows_what_a_user_otherwise_does_not_see(tmp_path, monkeypatch, capsys):
    refused = "http://127.0.0.1:9/bald_proxy.pt"  # the discard port: nothing listens
    monkeypatch.setitem(WEIGHTS, "bald_proxy.pt", dataclasses.replace(WEIGHTS["bald_proxy.pt"], sources=(UrlFile(refused),)))
    arguments = ["weights", "download", "bald_proxy.pt", "--weights-dir", str(tmp_path)]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert "the connection was refused" in error and "Traceback" not in error and "Errno" not in error
    with pytest.raises(DownloadError):
        main(["--debug", *arguments])
    debug = capsys.readouterr().err
    assert "hairedit: DEBUG: bald_proxy.pt from http://127.0.0.1:9/bald_proxy.pt failed" in debug
    assert "ConnectionRefusedError" in debug
