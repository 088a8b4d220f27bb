"""Downloads against a local HTTP server on 127.0.0.1: resuming, falling through sources,
bz2 files, progress, and the messages a user sees."""

import bz2
import hashlib
import http.server
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hairedit.cli import main
from hairedit.errors import DownloadError, MissingWeightsError
from hairedit.weights import download as downloads
from hairedit.weights.registry import WEIGHTS, GoogleDriveFile, HuggingFaceFile, UrlFile, WeightFile

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves ``files[path]`` (PAYLOAD for any other path), honours Range, cuts the first
    response for a path in ``cut_once`` short after that many bytes (in ``chunked_cut_once``: a
    chunked body, cut inside a chunk), answers paths in ``garbled`` with a broken status line,
    and can send ``chunk_bytes`` at a time with ``pause_s`` between (so that progress shows)."""

    def __init__(self):
        self.requests = []
        self.files = {}
        self.cut_once, self.chunked_cut_once, self.garbled = {}, {}, set()
        self.chunk_bytes, self.pause_s = None, 0.0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path.startswith("/missing"):
                    self.send_error(404)
                    return
                if self.path in server.garbled:
                    self.wfile.write(b"HTTP/1.1 2OO OK\r\n\r\n")
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                body = server.files.get(self.path, PAYLOAD)[start:]
                if self.path in server.chunked_cut_once:
                    self.send_chunked_cut(body, server.chunked_cut_once.pop(self.path))
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut_once:
                    self.wfile.write(body[: server.cut_once.pop(self.path)])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                chunk = server.chunk_bytes or len(body) or 1
                for offset in range(0, len(body), chunk):
                    self.wfile.write(body[offset : offset + chunk])
                    self.wfile.flush()
                    time.sleep(server.pause_s)

            def send_chunked_cut(self, body, cut_bytes):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = 64 * 1024
                for offset in range(0, cut_bytes, chunk):
                    self.wfile.write(b"%x\r\n" % chunk)  # the whole chunk is announced...
                    self.wfile.write(body[offset : min(offset + chunk, cut_bytes)])  # ...the last never ends
                    if offset + chunk <= cut_bytes:
                        self.wfile.write(b"\r\n")
                self.wfile.flush()
                self.connection.shutdown(2)

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


def cached(folder):
    """The files in the weights folder, but for the folder of empty files that downloads lock."""
    return sorted(path.name for path in folder.iterdir() if path.name != ".locks")


def _entry(*sources, sha256=PAYLOAD_SHA256, size=len(PAYLOAD), name="test.bin"):
    return WeightFile(name, "a test file", tuple(sources), size_bytes=size, sha256=sha256, licence="MIT",
                      licence_source="https://example.org/LICENSE")


def test_download_lands_whole_and_checked(server, tmp_path):
    path = downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert cached(tmp_path) == ["test.bin"]


def test_a_cut_connection_resumes_with_a_range_request(server, tmp_path):
    server.cut_once["/file.bin"] = 300_000
    path = downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert server.requests[1][1] == "bytes=300000-"


def test_a_chunked_body_cut_mid_chunk_resumes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "CHUNK_BYTES", 64 * 1024)
    server.chunked_cut_once["/file.bin"] = 300_000  # four whole chunks of 64 KiB, then a cut inside the fifth
    path = downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert [request[1] for request in server.requests] == [None, "bytes=262144-"]


def test_a_server_that_answers_garbage_is_left_for_the_next_source(server, tmp_path, monkeypatch):
    server.garbled.add("/garbled.bin")
    entries = {
        "broken.bin": _entry(UrlFile(f"{server.url}/garbled.bin"), name="broken.bin"),
        "fine.bin": _entry(UrlFile(f"{server.url}/garbled.bin"), UrlFile(f"{server.url}/file.bin"), name="fine.bin"),
        "later.bin": _entry(UrlFile(f"{server.url}/file.bin"), name="later.bin"),
    }
    monkeypatch.setattr(downloads, "WEIGHTS", entries)
    monkeypatch.setattr(downloads, "get_weight_file", entries.__getitem__)
    with pytest.raises(DownloadError) as error:
        downloads.download(None, tmp_path, progress=False)
    assert str(error.value).startswith("broken.bin: not downloaded: ") and "fine.bin" not in str(error.value)
    assert "garbled.bin: the connection kept breaking off" in str(error.value)
    assert (tmp_path / "fine.bin").read_bytes() == PAYLOAD  # from its second source
    assert (tmp_path / "later.bin").read_bytes() == PAYLOAD  # a failed file does not stop the others


def test_an_empty_list_of_names_downloads_nothing(server, tmp_path, monkeypatch):
    # What the UI asks for once nothing is missing any more.
    entries = {"first.bin": _entry(UrlFile(f"{server.url}/first.bin"), name="first.bin")}
    monkeypatch.setattr(downloads, "WEIGHTS", entries)
    monkeypatch.setattr(downloads, "get_weight_file", entries.__getitem__)
    assert downloads.missing_files([], tmp_path) == []
    assert downloads.download([], tmp_path, progress=False) == []
    assert server.requests == [] and list(tmp_path.iterdir()) == []
    assert [path.name for path in downloads.download(None, tmp_path, progress=False)] == ["first.bin"]


def test_two_downloads_of_one_file_at_once_fetch_it_once(server, tmp_path):
    server.chunk_bytes, server.pause_s = 128 * 1024, 0.02  # slow enough for the two to overlap
    entry = _entry(UrlFile(f"{server.url}/file.bin"))
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: downloads.fetch(entry, tmp_path), range(2)))
    assert paths == [tmp_path / "test.bin"] * 2 and paths[0].read_bytes() == PAYLOAD
    assert len(server.requests) == 1  # the second waited, then used the first one's file


def test_a_file_that_cannot_be_put_in_place_is_told_in_one_line(server, tmp_path):
    (tmp_path / "test.bin").mkdir()  # something else has the file's name
    with pytest.raises(DownloadError) as error:
        downloads.fetch(_entry(UrlFile(f"{server.url}/file.bin")), tmp_path)
    message = str(error.value)
    assert "\n" not in message and f"-> {tmp_path / 'test.bin'})" in message and "is a directory" in message


def test_checksum_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    entry = _entry(UrlFile(f"{server.url}/file.bin"), sha256="0" * 64)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        downloads.fetch(entry, tmp_path)
    assert cached(tmp_path) == []


def test_failing_sources_fall_through_and_are_all_listed(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    entry = _entry(
        UrlFile(f"{server.url}/missing/a.bin"), HuggingFaceFile("someone/repo", "weights/b.bin", revision="0123abcd")
    )
    assert downloads.fetch(entry, tmp_path).read_bytes() == PAYLOAD
    assert server.requests[-1][0] == "/someone/repo/resolve/0123abcd/weights/b.bin"  # the pinned commit
    entry = _entry(UrlFile(f"{server.url}/missing/a.bin"), UrlFile(f"{server.url}/missing/c.bin"))
    with pytest.raises(DownloadError) as error:
        downloads.fetch(entry, tmp_path / "other")
    message = str(error.value)
    assert "HTTP 404" in message and "missing/a.bin" in message and "missing/c.bin" in message and "\n" not in message


def test_network_failures_are_told_in_words_not_exception_text(tmp_path):
    closed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    with pytest.raises(DownloadError) as error:
        downloads.fetch(_entry(UrlFile(f"http://127.0.0.1:{port}/file.bin")), tmp_path)
    assert "the connection was refused" in str(error.value)
    assert "Errno" not in str(error.value) and "urlopen" not in str(error.value)


def test_the_dlib_bz2_file_is_decompressed_and_checked(server, tmp_path):
    server.files["/model.dat.bz2"] = bz2.compress(PAYLOAD)
    server.files["/broken.dat.bz2"] = b"BZh9 not really bzip2"
    server.cut_once["/model.dat.bz2"] = 1000  # the compressed download is resumed too
    entry = _entry(
        UrlFile(f"{server.url}/broken.dat.bz2", compression="bz2"),
        UrlFile(f"{server.url}/model.dat.bz2", compression="bz2"),
    )
    path = downloads.fetch(entry, tmp_path)
    assert path.read_bytes() == PAYLOAD  # the decompressed file, with the size and sha256 pinned for it
    assert cached(tmp_path) == ["test.bin"]
    assert [request[1] for request in server.requests] == [None, None, "bytes=1000-"]


def test_the_real_dlib_entry_downloads_the_bz2_file(tmp_path):
    entry = WEIGHTS["shape_predictor_68_face_landmarks.dat"]
    assert [source.compression for source in entry.sources if isinstance(source, UrlFile)] == ["bz2", "bz2"]
    assert entry.size_bytes == 99_693_937  # the size of the decompressed file, as checked


def test_progress_reports_each_file_and_the_total(server, tmp_path, monkeypatch):
    entries = {
        name: _entry(UrlFile(f"{server.url}/{name}"), name=name) for name in ("first.bin", "second.bin")
    }
    monkeypatch.setattr(downloads, "WEIGHTS", entries)
    monkeypatch.setattr(downloads, "get_weight_file", entries.__getitem__)
    reports = []
    paths = downloads.download(None, tmp_path, progress=reports.append)
    assert [path.name for path in paths] == ["first.bin", "second.bin"]
    assert {(r.name, r.file_index, r.file_count) for r in reports} == {("first.bin", 1, 2), ("second.bin", 2, 2)}
    assert all(r.total_bytes == 2 * len(PAYLOAD) for r in reports)
    last = reports[-1]
    assert (last.file_bytes, last.file_total_bytes, last.done_bytes) == (len(PAYLOAD), len(PAYLOAD), 2 * len(PAYLOAD))
    assert [r.done_bytes for r in reports] == sorted(r.done_bytes for r in reports)


def test_a_progress_callback_can_stop_the_download_and_a_rerun_resumes(server, tmp_path, monkeypatch):
    entries = {"big.bin": _entry(UrlFile(f"{server.url}/big.bin"), name="big.bin")}
    monkeypatch.setattr(downloads, "WEIGHTS", entries)
    monkeypatch.setattr(downloads, "get_weight_file", entries.__getitem__)
    monkeypatch.setattr(downloads, "CHUNK_BYTES", 256 * 1024)

    def stop_midway(progress):
        if progress.file_bytes >= 512 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        downloads.download(["big.bin"], tmp_path, progress=stop_midway)
    assert not (tmp_path / "big.bin").exists()
    downloads.download(["big.bin"], tmp_path, progress=False)
    assert (tmp_path / "big.bin").read_bytes() == PAYLOAD
    assert server.requests[-1][1] == "bytes=524288-"


def test_package_files_are_used_in_place(tmp_path):
    path = downloads.ensure("shape_predictor_68_face_landmarks.dat", tmp_path, download=False)
    assert path.name == "shape_predictor_68_face_landmarks.dat" and "face_recognition_models" in str(path)


def test_missing_files_are_told_in_one_message_with_sizes_and_the_command(tmp_path):
    missing = downloads.missing_files(["bald_proxy.pt", "ffhq.pt", "shape_predictor_68_face_landmarks.dat"], tmp_path)
    assert [entry.name for entry in missing] == ["bald_proxy.pt", "ffhq.pt"]  # dlib's ships in a package
    message = downloads.missing_files_message(missing, tmp_path)
    assert message.startswith("2 pretrained files are missing (about 0.1 GB): bald_proxy.pt (8 MB), ffhq.pt (133 MB).")
    assert "`hairedit weights download`" in message and str(tmp_path) in message and "\n" not in message
    with pytest.raises(MissingWeightsError, match=r"bald_proxy.pt \(8 MB\).*hairedit weights download"):
        downloads.ensure("bald_proxy.pt", tmp_path, download=False)
    # A plain `weights download` fetches what every edit needs; the instant preset's files are named.
    instant = downloads.missing_files(["e4e_ffhq_encode.pt", "ffhq.pt"], tmp_path)
    assert "`hairedit weights download e4e_ffhq_encode.pt ffhq.pt`" in downloads.missing_files_message(instant)


def test_an_edit_without_the_weights_names_every_missing_file_at_once(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(photo)
    code = main(["edit", str(photo), "-o", str(tmp_path / "out.png"), "--hairstyle", "bob cut", "--rgb", "200,40,40",
                 "--weights-dir", str(tmp_path / "empty")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("hairedit: error: 9 pretrained files are missing")
    for name in ("ffhq.pt", "seg.pth", "bald_proxy.pt", "clip_vit_b32.safetensors", "clip_vocab.json",
                 "vgg16-397923af.pth", "lpips_vgg_v0.1.pth", "3DFAN4-7835d9f11d.pth.tar"):
        assert name in error
    assert "GB" in error and "`hairedit weights download`" in error
    assert "e4e_ffhq_encode.pt" not in error  # only the instant preset needs it
    assert "sketch_proxy.pt" not in error  # only sketches need it
    assert not (tmp_path / "out.png").exists()
    assert main(["edit", str(photo), "-o", str(tmp_path / "out.png"), "--rgb", "200,40,40", "--preset", "instant",
                 "--weights-dir", str(tmp_path / "empty")]) == 2
    assert "e4e_ffhq_encode.pt (1200 MB)" in capsys.readouterr().err


def test_the_official_pca_file_loads_as_published(tmp_path):
    from hairedit.latent_pca import load_latent_pca
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
    from hairedit.latent_pca import load_latent_pca
    from tests.official.pca import write_pca

    write_pca(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as good:
        arrays = {**dict(good), **damage}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_latent_pca(tmp_path / "bad.npz")


def test_google_drive_files_report_progress_and_resume(tmp_path, monkeypatch):
    import gdown

    from hairedit.weights.registry import GoogleDriveFile

    calls = []

    def fake_download(id, output, quiet, resume, progress):  # gdown >= 6.0's signature, as hairedit calls it
        calls.append((id, quiet, resume))
        with open(output, "wb") as handle:
            for start in range(0, len(PAYLOAD), 256 * 1024):
                handle.write(PAYLOAD[start:start + 256 * 1024])
                progress(start + 256 * 1024, len(PAYLOAD))
        return output

    monkeypatch.setattr(gdown, "download", fake_download)
    reports = []
    tracker = downloads.Tracker([_entry(GoogleDriveFile("abc"))], reports.append)
    path = downloads.fetch(_entry(GoogleDriveFile("abc")), tmp_path, tracker)
    assert path.read_bytes() == PAYLOAD and calls == [("abc", True, True)]
    assert [r.file_bytes for r in reports][-4:] == [262144, 524288, 786432, 1048576]


def test_big_lama_is_unpacked_from_its_zip_loaded_strictly_and_recorded(server, tmp_path):
    import dataclasses
    import io
    import json
    import zipfile

    from hairedit.weights.registry import LAMA_FILE, LAMA_MEMBER, ZipMember
    from tests.official.lama import write_lama

    real = WEIGHTS[LAMA_FILE]
    assert real.sources[0] == ZipMember(HuggingFaceFile("smartywu/big-lama", "big-lama.zip"), LAMA_MEMBER)
    assert not real.pinned and not real.required
    write_lama(tmp_path / "best.ckpt", values="compact")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:  # the release's layout
        archive.writestr("big-lama/config.yaml", "generator:\n  kind: ffc_resnet\n")
        archive.write(tmp_path / "best.ckpt", LAMA_MEMBER)
    server.files["/big-lama.zip"] = packed.getvalue()
    server.files["/broken.zip"] = b"PK\x03\x04 not really a zip"
    server.files["/other.zip"] = packed.getvalue()
    server.cut_once["/big-lama.zip"] = 5000  # the archive's download resumes like any other
    entry = dataclasses.replace(real, sources=(
        ZipMember(UrlFile(f"{server.url}/broken.zip"), LAMA_MEMBER),
        ZipMember(UrlFile(f"{server.url}/other.zip"), "big-lama/models/last.ckpt"),
        ZipMember(UrlFile(f"{server.url}/big-lama.zip"), LAMA_MEMBER),
    ))
    folder = tmp_path / "weights"
    folder.mkdir()
    path = downloads.fetch(entry, folder)
    assert path.read_bytes() == (tmp_path / "best.ckpt").read_bytes()
    assert cached(folder) == [LAMA_FILE, "weights.lock.json"]  # no archive or part left
    assert LAMA_FILE in json.loads((folder / "weights.lock.json").read_text())["files"]


def test_offline_each_file_fails_in_one_line_saying_why_then_one_summary(tmp_path, monkeypatch, capsys):
    """No network: every source's name lookup fails (Google Drive's through gdown and requests too)."""
    pytest.importorskip("gdown")

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert main(["weights", "download", "--all", "--weights-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    wanted = downloads.missing_files(folder=tmp_path)
    assert any(isinstance(source, GoogleDriveFile) for entry in wanted for source in entry.sources)
    assert lines[0].startswith(f"{len(wanted)} pretrained files are missing")
    failures = lines[1:-1]
    assert len(failures) == len(wanted)  # no empty progress-bar lines, nothing else between
    for entry, line in zip(wanted, failures):
        assert line.removeprefix("hairedit: error: ").startswith(f"{entry.name}: not downloaded: "), line
        assert "name could not be looked up (no network?)" in line and "Google Drive refused" not in line, line
    assert lines[-1].startswith(f"{len(wanted)} of {len(wanted)} files could not be downloaded; ")


def test_a_download_prints_the_licences_of_what_it_fetched(server, tmp_path, monkeypatch, capsys):
    from hairedit.weights import commands

    entries = {"first.bin": _entry(UrlFile(f"{server.url}/first.bin"), name="first.bin")}
    for module in (downloads, commands):
        monkeypatch.setattr(module, "WEIGHTS", entries)
    monkeypatch.setattr(downloads, "get_weight_file", entries.__getitem__)
    assert main(["weights", "download", "first.bin", "--weights-dir", str(tmp_path)]) == 0
    assert "first.bin: MIT (https://example.org/LICENSE)" in capsys.readouterr().out
    assert main(["weights", "download", "first.bin", "--weights-dir", str(tmp_path)]) == 0
    assert "licence" not in capsys.readouterr().out  # nothing fetched, nothing to tell


def test_every_file_names_its_licence_and_where_it_is_stated(capsys, tmp_path):
    for entry in WEIGHTS.values():
        assert entry.licence and entry.licence_source.startswith("https://"), entry.name
    assert WEIGHTS["ffhq.pt"].licence.startswith("Nvidia Source Code License-NC")
    assert "commercial" in WEIGHTS["shape_predictor_68_face_landmarks.dat"].licence
    with pytest.raises(TypeError, match="licence"):
        WeightFile("new.bin", "an entry that forgot its licence", ())
    assert main(["weights", "list", "--weights-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("      licence: ") == len(WEIGHTS)
    assert "licence: Nvidia Source Code License-NC (non-commercial) (https://github.com/NVlabs/stylegan2#license" in out
