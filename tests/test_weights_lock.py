"""Every pretrained file is checked: pinned files against their published sha256, the others
against the size and sha256 recorded in weights.lock.json on first use; `hairedit weights
verify` checks hashes, then loads each file strictly."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hairedit.cli import main
from hairedit.errors import ChecksumError, DownloadError
from hairedit.weights import download as downloads
from hairedit.weights import checks, lock
from hairedit.weights.registry import WEIGHTS, UrlFile
from hairedit.weights.verify import register_all_checks
from tests.conftest import Booby
from tests.test_weights import PAYLOAD, Server, cached

# The tests' official-layout files hold random numbers: they cannot match the published
# checksums, so these entries are treated as unpinned where a test loads them.
RANDOM_IN_TESTS = ("ffhq_PCA.npz", "vgg16-397923af.pth", "lpips_vgg_v0.1.pth", "clip_vocab.json", "clip_merges.txt")


@pytest.fixture(autouse=True)
def every_check_registered():
    """As `hairedit weights download` and the UI do: a file trusted on first use loads first."""
    register_all_checks()


@pytest.fixture
def unpinned(monkeypatch):
    for name in RANDOM_IN_TESTS:
        monkeypatch.setitem(WEIGHTS, name, dataclasses.replace(WEIGHTS[name], sha256=None, size_bytes=None))


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _serving(server, monkeypatch, name, path="/file.bin"):
    """Registry entry ``name``, unpinned, fetched from ``server`` at ``path``."""
    entry = dataclasses.replace(WEIGHTS[name], sources=(UrlFile(server.url + path),), sha256=None, size_bytes=None)
    monkeypatch.setitem(WEIGHTS, name, entry)
    return entry


def test_a_tampered_pinned_file_is_refused_by_hash(tmp_path):
    (tmp_path / "ffhq_PCA.npz").write_bytes(b"\0" * WEIGHTS["ffhq_PCA.npz"].size_bytes)
    with pytest.raises(ChecksumError) as error:
        downloads.ensure("ffhq_PCA.npz", tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "ffhq_PCA.npz") in message and "does not match its pinned checksum" in message
    assert "hairedit weights download ffhq_PCA.npz" in message
    assert not lock.lock_path(tmp_path).exists()  # a pinned file is never recorded


def test_an_unpinned_download_is_recorded_and_checked_ever_after(server, tmp_path, monkeypatch):
    # bald_proxy.pt has no published checksum: its first download is recorded, once it loads.
    _serving(server, monkeypatch, "bald_proxy.pt", "/bald_proxy.pt")
    from tests.official.bald_proxy import write_bald_proxy

    write_bald_proxy(tmp_path / "official.pt")
    server.files["/bald_proxy.pt"] = (tmp_path / "official.pt").read_bytes()
    path = downloads.ensure("bald_proxy.pt", tmp_path / "weights", progress=False)
    record = json.loads(lock.lock_path(tmp_path / "weights").read_text())["files"]["bald_proxy.pt"]
    assert record["size_bytes"] == path.stat().st_size and record["source"].endswith("/bald_proxy.pt")
    assert downloads.ensure("bald_proxy.pt", tmp_path / "weights") == path  # matches its record

    checkpoint = torch.load(path, weights_only=False)
    checkpoint["alpha"] = 0.5  # still loads: only the hash tells
    torch.save(checkpoint, path)
    with pytest.raises(ChecksumError, match=r"bald_proxy.pt does not match the checksum recorded in .*weights trust"):
        downloads.ensure("bald_proxy.pt", tmp_path / "weights")
    assert main(["weights", "trust", "bald_proxy.pt", "--weights-dir", str(tmp_path / "weights")]) == 0
    assert downloads.ensure("bald_proxy.pt", tmp_path / "weights") == path


def test_a_download_that_does_not_load_is_not_trusted(server, tmp_path, monkeypatch):
    # What a file host sends when its quota is used up: a web page under the file's name.
    _serving(server, monkeypatch, "bald_proxy.pt", "/quota")
    server.files["/quota"] = b"<html>Too many users have viewed or downloaded this file recently</html>"
    with pytest.raises(DownloadError, match="does not load, and was removed"):
        downloads.ensure("bald_proxy.pt", tmp_path, progress=False)
    assert cached(tmp_path) == []


def test_a_redownload_must_match_the_record(server, tmp_path, monkeypatch):
    _serving(server, monkeypatch, "clip_merges.txt")  # no checker: any bytes load
    downloads.ensure("clip_merges.txt", tmp_path, progress=False)
    (tmp_path / "clip_merges.txt").unlink()
    server.files["/file.bin"] = PAYLOAD[::-1]  # the source now serves other bytes
    with pytest.raises(DownloadError, match="checksum mismatch .* the checksum recorded in") as error:
        downloads.ensure("clip_merges.txt", tmp_path, progress=False)
    assert "`hairedit weights trust clip_merges.txt`" in str(error.value)  # how to accept the new file
    assert cached(tmp_path) == [lock.LOCK_NAME]


def test_a_first_download_is_in_place_only_once_it_has_loaded(server, tmp_path, monkeypatch):
    _serving(server, monkeypatch, "bald_proxy.pt", "/bald_proxy.pt")
    from tests.official.bald_proxy import write_bald_proxy

    write_bald_proxy(tmp_path / "official.pt")
    server.files["/bald_proxy.pt"] = (tmp_path / "official.pt").read_bytes()
    folder = tmp_path / "weights"

    def stopped_while_loading(path):
        raise KeyboardInterrupt  # the user stops the program (or it dies) while the file is checked

    monkeypatch.setitem(checks.CHECKERS, "bald_proxy.pt", stopped_while_loading)
    with pytest.raises(KeyboardInterrupt):
        downloads.ensure("bald_proxy.pt", folder, progress=False)
    assert downloads.locate("bald_proxy.pt", folder) is None and lock.read_lock(folder) == {}
    monkeypatch.undo()
    _serving(server, monkeypatch, "bald_proxy.pt", "/bald_proxy.pt")
    path = downloads.ensure("bald_proxy.pt", folder, progress=False)  # the next run checks it, then uses it
    assert path.read_bytes() == server.files["/bald_proxy.pt"] and "bald_proxy.pt" in lock.read_lock(folder)


def test_records_written_by_many_processes_at_once_are_all_kept(tmp_path):
    start = time.time() + 2  # every process writes at the same moment, once all have started
    code = (
        "import sys, time; from hairedit.weights import lock\n"
        f"time.sleep(max(0, {start} - time.time()))\n"
        "for k in range(20):\n"
        "    record = lock.LockRecord(k, 'ab' * 32, 'test', 'now')\n"
        f"    lock.write_record(f'{{sys.argv[1]}}-{{k}}', record, {str(tmp_path)!r})"
    )
    environment = {**os.environ, "PYTHONPATH": str(Path(lock.__file__).parents[2])}
    processes = [subprocess.Popen([sys.executable, "-c", code, str(i)], env=environment) for i in range(8)]
    assert [process.wait() for process in processes] == [0] * 8
    assert len(lock.read_lock(tmp_path)) == 8 * 20


def test_weights_list_tells_pinned_from_trusted_on_first_use(tmp_path, capsys):
    assert main(["weights", "list", "--weights-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    blocks = {block.split()[0]: block for block in re.split(r"\n  (?=\S)", out)[1:]}
    assert "pinned: sha256 77f77159767399a0" in blocks["ffhq_PCA.npz"]
    assert "pinned" in blocks["vgg16-397923af.pth"] and "pinned" in blocks["clip_vocab.json"]
    assert "trusted on first use: not recorded yet" in blocks["ffhq.pt"]
    assert "missing" in blocks["ffhq.pt"] and "about 133.0 MB" in blocks["ffhq.pt"]
    assert "openai/clip-vit-base-patch32 / model.safetensors at commit d15b5f2972" in blocks["clip_vit_b32.safetensors"]


def test_verify_checks_hashes_then_loads_official_layouts(official_dir, tmp_path, capsys, unpinned):
    folder = tmp_path / "weights"
    shutil.copytree(official_dir, folder)
    assert main(["weights", "verify", "--weights-dir", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ("ffhq.pt", "ffhq_PCA.npz", "seg.pth", "bald_proxy.pt", "sketch_proxy.pt", "vgg16-397923af.pth",
                 "clip_vit_b32.safetensors", "lpips_vgg_v0.1.pth", "3DFAN4-7835d9f11d.pth.tar",
                 "e4e_ffhq_encode.pt", "hairclip.pt"):
        assert any(line.startswith("ok") and name in line and "sha256 recorded" in line for line in lines), name
    assert any(line.startswith("ok") and "shape_predictor" in line and "matches its pin" in line for line in lines)
    assert set(lock.read_lock(folder)) >= {"ffhq.pt", "seg.pth", "clip_vit_b32.safetensors"}

    # From now on each file must match its record: a few changed bytes are refused before loading.
    with open(folder / "seg.pth", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\1\2\3")
    with pytest.raises(ChecksumError, match="seg.pth does not match the checksum recorded"):
        downloads.ensure("seg.pth", folder)


def test_verify_refuses_a_file_that_differs_from_its_record(official_dir, tmp_path, capsys):
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(official_dir / "bald_proxy.pt", folder)
    lock.record_file(folder / "bald_proxy.pt", WEIGHTS["bald_proxy.pt"], folder)
    assert main(["weights", "verify", "--weights-dir", str(folder)]) == 0
    assert "sha256 matches the lock file" in capsys.readouterr().out
    with open(folder / "bald_proxy.pt", "ab") as handle:
        handle.write(b"\0")
    assert main(["weights", "verify", "--weights-dir", str(folder)]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "bald_proxy.pt does not match the checksum recorded" in failed[0]


def test_verify_rejects_broken_and_booby_trapped_files(official_dir, tmp_path, capsys):
    folder = tmp_path / "weights"
    folder.mkdir()
    checkpoint = torch.load(official_dir / "bald_proxy.pt", weights_only=False)
    checkpoint["state_dict"]["structure_mapping.fc2.bias"] = torch.zeros(7)
    torch.save(checkpoint, folder / "bald_proxy.pt")
    seg = torch.load(official_dir / "seg.pth")
    seg["trap"] = Booby()
    torch.save(seg, folder / "seg.pth")
    assert main(["weights", "verify", "--weights-dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "structure_mapping.fc2.bias (7,)" in out
    assert any(line.startswith("failed") and "seg.pth" in line and "refused" in line for line in out.splitlines())
    assert lock.read_lock(folder) == {}  # neither was trusted


def test_pinned_files_cannot_be_trusted_by_hand(tmp_path, capsys):
    assert main(["weights", "trust", "vgg16-397923af.pth", "--weights-dir", str(tmp_path)]) == 2
    assert "pinned to a published checksum" in capsys.readouterr().err
